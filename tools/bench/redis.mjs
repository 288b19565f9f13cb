// The Redis scenario runs only when Redis answers; its keys are deleted afterwards.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

function connect(url) {
  return new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
}

export async function redisAnswers(url) {
  const client = connect(url);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under the prefix; returns how many were deleted. */
export async function deleteKeys(url, prefix) {
  const client = connect(url);
  try {
    await client.connect();
    let deleted = 0;
    for await (const keys of client.scanStream({ match: `${prefix}*`, count: 500 })) {
      if (keys.length > 0) deleted += await client.del(...keys);
    }
    return deleted;
  } finally {
    client.disconnect();
  }
}

/** redis-server's pid when it runs in this pid namespace (its CPU time is read from /proc), else null. */
export async function redisServerPid(url) {
  const client = connect(url);
  try {
    await client.connect();
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    // In another pid namespace (a container) the same number may be some other process.
    return pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis') ? pid : null;
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}
