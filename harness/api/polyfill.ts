// Symbol.dispose / Symbol.asyncDispose for runtimes that lack them (Node 20.10+ has both; TypeScript's downlevelled
// `await using` and Lab's [Symbol.asyncDispose] need the same symbol). Imported first by the entry points.
const S = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
S.dispose ??= Symbol.for('Symbol.dispose');
S.asyncDispose ??= Symbol.for('Symbol.asyncDispose');
export {};
