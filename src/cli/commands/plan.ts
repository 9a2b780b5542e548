// bluegreen plan validate PLAN | plan check PLAN
import type { Command } from 'commander';
import { CliError, EXIT, messageOf } from '../errors';

export function registerPlan(program: Command, setExit: (n: number) => void): void {
  const plan = program.command('plan').description('check a plan file before deploying it');

  plan
    .command('validate')
    .description('check the plan against the schema; exit 0 if valid, 1 with every problem (path, expected, found)')
    .argument('<plan>', 'plan file (YAML or JSON)')
    .action(async (path: string) => {
      const { describePlan, readPlan } = await import('../plan-file');
      const p = await readPlan(path, EXIT.failed);
      console.log(`${path}: valid plan\n${describePlan(p)}`);
    });

  plan
    .command('check')
    .description("preflight only, touching nothing: read the LB pools and every host's release and health, and say what a run would change")
    .argument('<plan>', 'plan file (YAML or JSON)')
    .action(async (path: string) => {
      const [{ describePlan, readPlan }, { table }, { describeWebhooks }, { checkPlan }] = await Promise.all([
        import('../plan-file'),
        import('../format'),
        import('../notify-check'),
        import('../preflight-check'),
      ]);
      const p = await readPlan(path);
      // Loaded here only: the SSH client and the adapters (Temporal's worker is not needed).
      const [{ realDeps }, { secretsFromEnv }] = await Promise.all([import('../../worker-deps'), import('../../worker-secrets')]);
      let secrets;
      try {
        secrets = secretsFromEnv();
      } catch (err) {
        throw new CliError(
          messageOf(err),
          EXIT.usage,
          'set BG_SSH_KEY and BG_KNOWN_HOSTS as for the worker (for the lab: BG_SSH_KEY=.lab/keys/id_ed25519 BG_KNOWN_HOSTS=.lab/known_hosts)',
        );
      }
      let real;
      try {
        real = await realDeps(secrets);
      } catch (err) {
        throw new CliError(
          `cannot load the SSH secrets: ${messageOf(err)}`,
          EXIT.usage,
          'check the files BG_SSH_KEY and BG_KNOWN_HOSTS point to',
        );
      }
      try {
        const report = await checkPlan(p, real.deps);
        console.log(describePlan(p));
        for (const line of describeWebhooks(p)) console.log(line);
        console.log(
          table(
            ['cluster', 'host', 'release', 'live pool', 'standby pool', 'healthy', 'problems'],
            report.hosts.map((h) => [
              h.cluster,
              h.host,
              h.release ?? '?',
              h.live ?? '?',
              h.standby ?? '?',
              h.healthy === undefined ? '?' : h.healthy ? 'yes' : 'no',
              h.problems.join('; '),
            ]),
          ),
        );
        if (report.problems.length > 0) {
          console.log(
            `Preflight would refuse to start (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}); nothing was changed:`,
          );
          for (const pr of report.problems) console.log(`  - ${pr}`);
          console.log('next: fix the fleet or the plan (currentRelease, hosts), then run plan check again');
          setExit(EXIT.failed);
          return;
        }
        console.log('Preflight passes; nothing was changed. A run would:');
        for (const c of report.changes) console.log(`  - ${c}`);
        console.log(`next: bluegreen deploy ${path}`);
      } finally {
        real.close();
      }
    });
}
