// A stalled TCP transfer is blamed on the path only when the sender's socket retransmits (#14: no false FAIL on a
// loaded machine, where a starved process stops the byte count too). Pure parsing of `ss -tin` output.
import { describe, expect, it } from 'vitest';
import { retransEvidence } from '../../harness/probe/tcp.ts';

describe('retransEvidence', () => {
  it('names retransmissions, backoff and unacknowledged segments of a black-holed sender', () => {
    const out = 'ESTAB 0 1048576 10.244.1.2:40212 10.244.2.2:5201\n\t cubic wscale:7,7 rto:1632 backoff:3 rtt:0.1/0.05 mss:1398 pmtu:1450 rcvmss:536 advmss:1398 cwnd:1 ssthresh:7 bytes_sent:65000 bytes_retrans:5592 bytes_acked:1 segs_out:52 segs_in:2 data_segs_out:50 send 112Mbps lastsnd:420 lastrcv:1632 lastack:1632 unacked:11 retrans:1/4 lost:11 sacked:0 rcv_space:14480';
    expect(retransEvidence(out)).toBe('retrans 4, backoff 3, unacked 11');
  });
  it('a sender that is merely slow (no retransmission, no backoff) is not evidence', () => {
    const out = 'ESTAB 0 0 10.244.1.2:40212 10.244.2.2:5201\n\t cubic wscale:7,7 rto:204 rtt:0.05/0.02 mss:1398 cwnd:10 bytes_sent:589824 bytes_acked:589825 segs_out:430 send 2.2Gbps lastsnd:3100 lastrcv:3200 lastack:3100';
    expect(retransEvidence(out)).toBeUndefined();
    expect(retransEvidence('')).toBeUndefined();
  });
  it('backoff alone (retransmission timer firing) is evidence', () => {
    expect(retransEvidence('ESTAB 0 9000 [fd00:10:244:1::2]:40212 [fd00:10:244:2::2]:5201\n\t rto:408 backoff:1 unacked:3')).toBe('retrans 0, backoff 1, unacked 3');
  });
});

describe('retransEvidence: a receiver that does not read', () => {
  it('zero-window probes back off with nothing unacknowledged: not a path failure', () => {
    expect(retransEvidence('ESTAB 0 2600000 10.244.1.2:40212 10.244.2.2:5201\n\t rto:204 backoff:4 rtt:0.05/0.02 bytes_acked:589825 lastsnd:3100 notsent:2600000')).toBeUndefined();
  });
});
