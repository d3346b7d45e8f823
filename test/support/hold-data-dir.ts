import { createDatabase } from '../../api/src/db/create-database.ts';

/**
 * A second process for the data-dir lock tests: opens the embedded database under argv[2],
 * prints "ready" and holds it until stdin closes (then closes cleanly) or it is killed.
 * When the directory is taken it prints the error and exits 1.
 */
const dataDir = process.argv[2]!;
try {
  const db = await createDatabase({ databaseUrl: null, dataDir, purpose: 'test holder' });
  await db.query('SELECT 1');
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await db.close();
    process.exit(0);
  });
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
