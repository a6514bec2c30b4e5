// Sends exactly N bytes over one TCP connection, then closes. Bounded by a timeout.
import net from 'node:net';
const [host, port, bytes, timeoutMs] = process.argv.slice(2);
const total = Number(bytes);
const timer = setTimeout(() => { console.error('timeout'); process.exit(1); }, Number(timeoutMs));
const s = net.connect(Number(port), host, () => {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let left = total;
  const pump = () => {
    while (left > 0) {
      const b = chunk.subarray(0, Math.min(chunk.length, left));
      left -= b.length;
      if (!s.write(b)) return s.once('drain', pump);
    }
    s.end(() => { clearTimeout(timer); console.log(`sent ${total}`); });
  };
  pump();
});
s.on('error', (e) => { console.error(`connect to ${host}:${port}: ${e.code ?? e.message}`); process.exit(1); });
