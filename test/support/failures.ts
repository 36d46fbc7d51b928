/** What a test expects of an effect that must fail: its typed failure, never a success or a defect. */
import { Cause, Effect, Exit } from "effect"

/** The typed failure of `effect`; throws (failing the test) when it succeeds or dies instead. */
export const failureOf = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return error.value
}
