import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Destination, DestinationFileError, parseDestination, type SecretSource } from './spec';

/** Secrets from this process: environment variables and files. */
export const processSecrets: SecretSource = {
  env: (name) => process.env[name],
  readFile: (file) => readFileSync(file, 'utf8'),
};

/** The `*.yaml`/`*.yml` files of `dir`, sorted by name, as paths. Throws DestinationFileError when `dir` cannot be read. */
export function destinationFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => path.join(dir, f));
  } catch (err) {
    throw new DestinationFileError(dir, [`(directory): cannot read: ${(err as Error).message}`]);
  }
}

/** One destination file, read and validated (secrets resolved). Throws DestinationFileError naming the file and key. */
export function loadDestinationFile(file: string, secrets: SecretSource = processSecrets): Destination {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DestinationFileError(file, [`(file): cannot read: ${(err as Error).message}`]);
  }
  return parseDestination(file, text, secrets);
}

/**
 * Reads every `*.yaml`/`*.yml` file of `dir` (sorted by name) as a destination. Throws DestinationFileError for the
 * first bad file (its message is one line naming the file and key), or when `dir` cannot be read.
 */
export function loadDestinations(dir: string, secrets: SecretSource = processSecrets): Destination[] {
  return destinationFiles(dir).map((file) => loadDestinationFile(file, secrets));
}
