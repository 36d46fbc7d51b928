/**
 * Runs with metrics, logged through the Promise face as a training script would: `long` logs `loss` at steps
 * 0 to 999 (falling, but for a spike at `spikeStep`), `acc` at the same steps (rising) and `lr` once; `short`
 * logs `loss` at every other step from 0 to 398; `hostile` logs a key made of markup; `none` logs nothing. The
 * series are functions of the step, so tests compute what they expect.
 */
import { Lineage } from "@lineage/core"

export const longSteps = 1_000
export const spikeStep = 500
export const spikeValue = 5
/** `long`'s loss: 2 falling towards 0, with a spike. */
export const longLoss = (step: number): number => (step === spikeStep ? spikeValue : 2 / (1 + step / 100))
export const longAcc = (step: number): number => step / longSteps
/** `short`'s steps: 0, 2, …, 398. */
export const shortSteps = Array.from({ length: 200 }, (_, i) => 2 * i)
export const shortLoss = (step: number): number => 3 / (1 + step / 50)
/** A key a page would run as script if it inserted it as markup (it holds no control character, so it is a key). */
export const hostileKey = `<img src=x onerror="window.pwnedByKey=1"> & "q"`

export interface MetricsSeeded {
  readonly long: string
  readonly short: string
  readonly hostile: string
  readonly none: string
}

export const seedMetrics = async (url: string, options: { readonly storage?: string } = {}): Promise<MetricsSeeded> => {
  const ln = await Lineage.connect(url, options.storage === undefined ? {} : { storage: options.storage })
  try {
    const long = await ln.track({ transform: { key: "train", version: "1" }, params: { lr: 0.1 } })
    ln.log({ lr: 0.1 }, { step: 0 })
    for (let step = 0; step < longSteps; step++) ln.log({ loss: longLoss(step), acc: longAcc(step) }, { step })
    await ln.finish()
    const short = await ln.track({ transform: { key: "train", version: "1" }, params: { lr: 0.3 } })
    for (const step of shortSteps) ln.log({ loss: shortLoss(step) }, { step })
    await ln.finish()
    const hostile = await ln.track({ transform: { key: "train", version: "1" } })
    for (let step = 0; step < 3; step++) ln.log({ [hostileKey]: step })
    await ln.finish()
    const none = await ln.track({ transform: { key: "prepare", version: "1" } })
    await ln.finish()
    return { long: long.uid, short: short.uid, hostile: hostile.uid, none: none.uid }
  } finally {
    await ln.close()
  }
}
