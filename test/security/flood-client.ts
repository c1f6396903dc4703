// A hostile page in a process of its own (as a real one would be, in a browser elsewhere): it
// opens a terminal and floods it with output, input and resizes until killed. Used by
// echoUnderAttack, so the victim's figures measure the server, not this client's own work.
//   node --import tsx test/security/flood-client.ts URL TOKEN output,input,resize
import { ProtocolClient } from '../helpers/protocol-client.js';

const [url, token, what = 'output,input,resize'] = process.argv.slice(2);
if (!url || !token) throw new Error('usage: flood-client.ts URL TOKEN [output,input,resize]');
const attack = new Set(what.split(','));
const c = await ProtocolClient.open(url, token);
c.keepBytes = 4096;
await c.waitForText(/[#$] $/, 30_000);
if (attack.has('output')) c.type('yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 2000000000\r');
process.stdout.write('flooding\n');
const chunk = 'y'.repeat(8 * 1024);
for (let i = 0; ; i++) {
  if (attack.has('input')) c.type(chunk);
  if (attack.has('resize')) c.send({ type: 'resize', cols: 80 + (i % 40), rows: 24 });
  await new Promise((r) => setTimeout(r, 5));
}
