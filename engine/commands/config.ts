// `cobalt config check FILE` validates a config (with COBALT_* overrides) and names each problem by key path;
// `cobalt config schema` prints the JSON Schema of a config file.
import type { Command } from 'commander';
import { configSchemaJson, loadConfig, logLevelRefusal, missingDataPaths, preflightProblems } from '../config/index.ts';
import { ConfigError } from '../types/errors.ts';

/** The exit code of a config `config check` refuses: 2, as `cobalt run` and `cobalt backtest` refuse it. */
export const CONFIG_REFUSED = 2;

/**
 * Returns the exit code of `config check` (0, or CONFIG_REFUSED) and writes its report: `ok …` on stdout, problems on
 * stderr. It refuses what a start would: the file, the data it names, and the environment's COBALT_ variables.
 */
export function checkConfigFile(file: string, env: Readonly<Record<string, string | undefined>>,
  out: (line: string) => void, err: (line: string) => void): number {
  let loaded;
  try {
    loaded = loadConfig(file, env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(e.message);
    return CONFIG_REFUSED;
  }
  const { config } = loaded;
  const badLevel = logLevelRefusal(env.COBALT_LOG_LEVEL);
  const problems = [...(badLevel === undefined ? [] : [badLevel]), ...missingDataPaths(config)];
  if (problems.length > 0) {
    err(`${file}: invalid config\n${problems.map((m) => `  ${m}`).join('\n')}`);
    return CONFIG_REFUSED;
  }
  const env_ = loaded.overrides.length > 0 ? ` (overrides: ${loaded.overrides.join(', ')})` : '';
  out(`ok ${file}: mode=${config.mode}, symbols=${config.symbols.primary},${config.symbols.reference}${env_}`);
  // Missing keys are a start-up matter, not a file problem: say so without failing the check.
  for (const p of preflightProblems(config, loaded.secrets)) err(`note: ${p} (needed at start)`);
  return 0;
}

/** Registers `cobalt config check|schema`. */
export function register(program: Command): void {
  const config = program.command('config').description('Validate config files and print their schema');
  config
    .command('check')
    .argument('<file>', 'YAML config file')
    .option('--no-env', 'ignore COBALT_* environment overrides')
    .description('validate a config file; prints "ok …" or each problem with its key path (exit 2)')
    .action((file: string, opts: { env: boolean }) => {
      const env = opts.env ? process.env : {};
      process.exitCode = checkConfigFile(file, env, (l) => console.log(l), (l) => console.error(l));
    });
  config
    .command('schema')
    .description('print the JSON Schema of a config file')
    .action(() => {
      console.log(JSON.stringify(configSchemaJson(), null, 2));
    });
}
