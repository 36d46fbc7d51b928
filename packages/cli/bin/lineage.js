#!/usr/bin/env node
// The `lineage` command: the built entry point, so that the bin exists from install on.
import "../dist/bin.js"
