// Preloaded into a service (NODE_OPTIONS=--import <this file>) when the bench profiles it: Node 20 refuses
// --cpu-prof in NODE_OPTIONS, so this starts the V8 profiler through the inspector and writes a .cpuprofile
// (same format as --cpu-prof) into BENCH_CPU_PROF_DIR when the process exits (the services exit via process.exit).

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
const name = process.env.BENCH_CPU_PROF_NAME ?? `profile-${process.pid}`;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // Same-thread inspector sessions dispatch synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
