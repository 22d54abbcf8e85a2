/**
 * The databases the store suite runs against: DuckDB in memory always; PostgreSQL at
 * OTAKIT_TEST_PG_URL (a server URL whose user may create databases), each test in a database of
 * its own. Under CI=true a missing OTAKIT_TEST_PG_URL fails the suite instead of leaving the
 * PostgreSQL path untested.
 */

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { it } from 'vitest';

export const PG_URL = process.env.OTAKIT_TEST_PG_URL;

/** A place to open a store, and how to remove it after the test. */
export interface TestTarget {
  url: string;
  drop(): Promise<void>;
}

export interface BackendUnderTest {
  name: 'duckdb' | 'postgres';
  /** A fresh, empty target. */
  fresh(): Promise<TestTarget>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs `fn` as the database of a PostgreSQL target (to break it on purpose). */
export async function onDatabase(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The rows of a query run on the database of a PostgreSQL target. */
export async function pgRows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

const duckdb: BackendUnderTest = {
  name: 'duckdb',
  fresh: async () => ({ url: ':memory:', drop: async () => undefined }),
};

const postgres: BackendUnderTest = {
  name: 'postgres',
  fresh: async () => {
    const name = `otakit_test_${randomBytes(6).toString('hex')}`;
    await admin((c) => c.query(`create database ${name}`));
    const url = new URL(PG_URL as string);
    url.pathname = `/${name}`;
    return {
      url: url.href,
      drop: () => admin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
    };
  },
};

/** The backends to run the suite against. */
export function backendsUnderTest(): BackendUnderTest[] {
  if (PG_URL !== undefined && PG_URL !== '') return [duckdb, postgres];
  if (process.env.CI === 'true') {
    it('has a PostgreSQL server to test against (OTAKIT_TEST_PG_URL)', () => {
      throw new Error('OTAKIT_TEST_PG_URL is not set: under CI the PostgreSQL store tests must run');
    });
  } else {
    console.warn('OTAKIT_TEST_PG_URL is not set: the PostgreSQL store tests do not run (they do in CI)');
  }
  return [duckdb];
}
