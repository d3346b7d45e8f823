// Preloaded (`node --import`) into every process the cluster:local supervisor starts. The child
// reads nothing from stdin; its end closes when the supervisor dies, however it dies (SIGKILL
// included), and then the child stops itself as on SIGTERM: no orphans after a crashed run.
// unref: the pipe alone keeps nothing alive. Worker threads have no such stdin.
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  process.stdin
    .on('end', () => process.kill(process.pid, 'SIGTERM'))
    .resume()
    .unref();
}
