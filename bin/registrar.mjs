#!/usr/bin/env node
// registrar: the command-line client of Registrar's /api/v1 (plain Node ESM, no build step).
import { main } from '../cli/main.mjs';

process.exitCode = await main(process.argv.slice(2));
