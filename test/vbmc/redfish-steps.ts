// Runs Redfish client steps against one BMC and prints the results as JSON: the e2e test executes
// it inside the lab namespace (where the vbmc listens), the way rackboot reaches BMCs.
//   tsx redfish-steps.ts <baseUrl> <sha256 pin> <user> <password> '<json array of steps>'

import { connectRedfish } from '../../redfish/index.js';

type Step =
  | { op: 'boot'; target: 'Pxe' | 'Cd' | 'UefiHttp' | 'UsbCd'; mode?: 'UEFI' | 'Legacy' }
  | { op: 'on' }
  | { op: 'off'; force?: boolean }
  | { op: 'reset'; type: 'ForceRestart' | 'PowerCycle' | 'GracefulShutdown' }
  | { op: 'insert'; url: string; slot?: 'cd' | 'second' }
  | { op: 'eject' }
  | { op: 'inventory' };

const [baseUrl, pin, username, password, stepsJson] = process.argv.slice(2);
if (baseUrl === undefined || pin === undefined || username === undefined || password === undefined || stepsJson === undefined) {
  process.stderr.write('usage: redfish-steps <baseUrl> <pin> <user> <password> <steps>\n');
  process.exit(2);
}
const steps = JSON.parse(stepsJson) as Step[];
const rf = await connectRedfish({ baseUrl, username, password, tls: { pinSha256: pin } });
const results: unknown[] = [];
try {
  for (const s of steps) {
    switch (s.op) {
      case 'boot':
        results.push(await rf.setOneTimeBoot(s.target, s.mode));
        break;
      case 'on':
        results.push(await rf.powerOn());
        break;
      case 'off':
        results.push(await rf.powerOff({ force: s.force ?? true }));
        break;
      case 'reset':
        results.push(await rf.reset(s.type));
        break;
      case 'insert':
        results.push(await rf.insertMedia(s.url, s.slot === undefined ? {} : { slot: s.slot }));
        break;
      case 'eject':
        results.push(await rf.ejectMedia());
        break;
      case 'inventory':
        results.push(await rf.inventory());
        break;
    }
  }
} finally {
  await rf.close();
}
process.stdout.write(`${JSON.stringify(results)}\n`);
