import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * PGlite takes no lock on its data directory: a second instance (another process, or the new
 * process of a rolling restart while the old one still runs) opens it happily and the two corrupt
 * each other. This lock file makes the second one fail fast instead.
 */

const LOCK_FILE = 'inference-api.lock';

// The pid in the file cannot tell two instances within one process apart, and after a container
// restart a new process may well get the pid of the crashed one; so this process's own locks are
// tracked here and a file carrying our pid that is not in this set is stale.
const heldByThisProcess = new Set<string>();

export interface DataDirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const directory = path.resolve(dataDir);
  if (heldByThisProcess.has(directory)) {
    throw new Error(`PGlite data directory ${directory} is already open in this process`);
  }
  heldByThisProcess.add(directory);
  const file = path.join(directory, LOCK_FILE);
  try {
    await acquire(file, directory);
  } catch (error) {
    heldByThisProcess.delete(directory);
    throw error;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await rm(file, { force: true });
      heldByThisProcess.delete(directory);
    },
  };
}

async function acquire(file: string, directory: string): Promise<void> {
  // Second round only after removing a stale file; two processes racing to take over the same
  // stale lock is the one case this cannot settle, and needs a crash plus a simultaneous start.
  for (let round = 0; round < 2; round += 1) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (owner !== process.pid && isRunning(owner)) {
      throw new Error(
        `PGlite data directory ${directory} is in use by process ${owner}; only one process may ` +
          `open it. If that process is not this application, delete ${file}.`,
      );
    }
    await rm(file, { force: true });
  }
  throw new Error(`Could not lock PGlite data directory ${directory}`);
}

function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
