import path from 'node:path';
import lockfile from 'proper-lockfile';

/**
 * PGlite takes no lock on its data directory: a second instance (another process, the new process
 * of a rolling restart while the old one still runs, or another container on the same volume)
 * opens it happily and the two corrupt each other. This lock makes the second one fail fast.
 *
 * The lock is a directory whose mtime its holder refreshes, not a pid file: two containers on one
 * volume are both pid 1 in their own namespaces, so a pid says nothing about who holds the lock,
 * while an mtime is the same for every reader of the volume. Node exposes no flock(2), and a
 * native addon for it would be one more binary to build for every platform.
 */

const LOCK_FILE = 'inference-api.lock';

/**
 * How long a lock survives its holder: a crashed instance blocks a restart for at most this long.
 * The holder refreshes it every STALE_MS / 2; a busy event loop that misses a refresh is tolerated
 * as long as no one else has taken the lock meanwhile.
 */
export const STALE_MS = 10_000;

// proper-lockfile refuses a second lock within one process too, but with the message meant for
// another instance; this set gives the in-process case its own.
const heldByThisProcess = new Set<string>();

export interface DataDirLock {
  release(): Promise<void>;
}

export interface DataDirLockOptions {
  /**
   * Called when the lock was taken away (its directory deleted, or refreshed by someone else after
   * this process could not refresh it for STALE_MS). Another instance may be writing by then.
   */
  onLost: (error: Error) => void;
}

export async function lockDataDir(
  dataDir: string,
  options: DataDirLockOptions,
): Promise<DataDirLock> {
  const directory = path.resolve(dataDir);
  if (heldByThisProcess.has(directory)) {
    throw new Error(`PGlite data directory ${directory} is already open in this process`);
  }
  heldByThisProcess.add(directory);
  const lockPath = path.join(directory, LOCK_FILE);
  let unlock: () => Promise<void>;
  try {
    unlock = await lockfile.lock(directory, {
      lockfilePath: lockPath,
      realpath: false,
      stale: STALE_MS,
      onCompromised: (error) => {
        heldByThisProcess.delete(directory);
        options.onLost(
          new Error(`Lost the lock on PGlite data directory ${directory}: ${error.message}`),
        );
      },
    });
  } catch (error) {
    heldByThisProcess.delete(directory);
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new Error(
      `PGlite data directory ${directory} is in use by another instance: its lock ${lockPath} ` +
        `was refreshed less than ${STALE_MS / 1000} s ago. Only one process may open it, ` +
        `including processes in other containers sharing the volume. A lock left by a crashed ` +
        `instance expires ${STALE_MS / 1000} s after the crash.`,
    );
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      heldByThisProcess.delete(directory);
      // Already gone if the lock was lost; there is nothing of ours left to remove.
      await unlock().catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ERELEASED') throw error;
      });
    },
  };
}
