// Counts bytes of one TCP connection, prints "received N", exits. Bounded by a timeout.
// Every failure is one line on stdout ("error <code> <message>"), never a stack trace.
import net from 'node:net';
const [host, port, timeoutMs] = process.argv.slice(2);
let n = 0;
// before a connection: the transfer's timeout plus 30 s for the source to start (a Node start-up inside `ip netns
// exec` has taken seconds at load 20+; the prober kills this sink when the source gives up); after: the timeout
let timer = setTimeout(() => { console.log(`error timeout received ${n}`); process.exit(1); }, Number(timeoutMs) + 30000);
const srv = net.createServer((s) => {
  clearTimeout(timer);
  timer = setTimeout(() => { console.log(`error timeout received ${n}`); process.exit(1); }, Number(timeoutMs));
  console.log('accepted');
  // progress lines (at most every 100 ms) let the prober tell a stalled transfer from a slow one without a long timeout
  let last = 0;
  s.on('data', (d) => {
    n += d.length;
    const now = Date.now();
    if (now - last >= 100) { last = now; console.log(`progress ${n}`); }
  });
  s.on('error', (e) => { console.log(`error ${e.message}`); });
  s.on('close', () => { clearTimeout(timer); console.log(`received ${n}`); srv.close(); process.exit(0); });
});
srv.on('error', (e) => { console.log(`error listen on ${host}:${port}: ${e.code ?? e.message}`); process.exit(1); });
srv.listen(Number(port), host, () => console.log('listening'));
