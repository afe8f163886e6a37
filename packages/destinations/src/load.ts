import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Destination, DestinationFileError, parseDestination, type SecretSource } from './spec';

/** Secrets from this process: environment variables and files. */
export const processSecrets: SecretSource = {
  env: (name) => process.env[name],
  readFile: (file) => readFileSync(file, 'utf8'),
};

/**
 * Reads every `*.yaml`/`*.yml` file of `dir` (sorted by name) as a destination. Throws DestinationFileError for the
 * first bad file (its message is one line naming the file and key), or when `dir` cannot be read.
 */
export function loadDestinations(dir: string, secrets: SecretSource = processSecrets): Destination[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (err) {
    throw new DestinationFileError(dir, [`(directory): cannot read: ${(err as Error).message}`]);
  }
  return files.map((f) => {
    const file = path.join(dir, f);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new DestinationFileError(file, [`(file): cannot read: ${(err as Error).message}`]);
    }
    return parseDestination(file, text, secrets);
  });
}
