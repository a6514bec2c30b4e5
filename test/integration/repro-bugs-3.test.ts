// Shard 3 of the bug library (see repro-bugs.ts).
import { reproShard } from './repro-bugs.ts';

reproShard(3);
