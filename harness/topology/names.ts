// Interface names: checked against the kernel's limit before anything is created.
import { SemanticError, type Path } from './errors.ts';

export const IFNAMSIZ = 15;

export function checkIfName(name: string, path: Path): string {
  if (Buffer.byteLength(name) > IFNAMSIZ) {
    throw new SemanticError(path, `generated interface name '${name}' is ${Buffer.byteLength(name)} bytes; Linux allows at most ${IFNAMSIZ}`);
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(name)) throw new SemanticError(path, `invalid interface name '${name}'`);
  return name;
}
