import { DeviceError, DeviceErrorCodes } from '../errors.js';
import type { ArtifactRecord } from './states.js';

/** What the state machine needs of an artifact header. @internal */
export interface HeaderView {
  name: string;
  group: string | undefined;
  deviceTypes: string[];
  provides: Record<string, string>;
  clearsProvides: string[] | undefined;
  payloadTypes: string[];
  toRecord(): ArtifactRecord;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Per-payload header documents, whatever layout the reader uses. */
function payloadDocs(header: Json, count: number): { typeInfo: unknown; metaData: unknown }[] {
  const out: { typeInfo: unknown; metaData: unknown }[] = [];
  const payloads = Array.isArray(header.payloads) ? header.payloads : undefined;
  for (let i = 0; i < count; i++) {
    const p = obj(payloads?.[i]);
    const typeInfo =
      p.typeInfo ??
      (Array.isArray(header.typeInfo) ? header.typeInfo[i] : undefined) ??
      (i === 0 ? header.typeInfo : undefined);
    const metaData =
      p.metaData ??
      (Array.isArray(header.metaData) ? header.metaData[i] : undefined) ??
      (i === 0 ? header.metaData : undefined);
    out.push({ typeInfo, metaData });
  }
  return out;
}

/**
 * Builds a {@link HeaderView} from the reader's header: `{headerInfo, payloads: [{typeInfo,
 * metaData}]}` (raw Mender JSON documents). Provides are merged as the Mender client does:
 * header-info `artifact_provides` plus every type-info `artifact_provides`.
 * @internal
 */
export function viewHeader(rawHeader: unknown): HeaderView {
  const header = obj(rawHeader);
  const headerInfo = obj(header.headerInfo ?? header.header_info ?? header);
  const payloadList = Array.isArray(headerInfo.payloads) ? headerInfo.payloads : [];
  const payloadTypes = payloadList.map((p) => {
    const t = obj(p).type;
    return typeof t === 'string' ? t : '';
  });
  const docs = payloadDocs(header, payloadTypes.length);
  const hp = obj(headerInfo.artifact_provides);
  const name = typeof hp.artifact_name === 'string' ? hp.artifact_name : '';
  if (!name)
    throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, 'the artifact header has no artifact_name');
  const group = typeof hp.artifact_group === 'string' ? hp.artifact_group : undefined;
  const deviceTypes = strings(obj(headerInfo.artifact_depends).device_type);
  const provided: [string, string][] = [];
  let clears: string[] | undefined;
  for (const d of docs) {
    const ti = obj(d.typeInfo);
    for (const [k, v] of Object.entries(obj(ti.artifact_provides)))
      if (typeof v === 'string') provided.push([k, v]);
    if (Array.isArray(ti.clears_artifact_provides))
      clears = [...(clears ?? []), ...strings(ti.clears_artifact_provides)];
  }
  // Own properties, so a provides key `__proto__` stays a key (an assignment would drop it).
  const provides: Record<string, string> = Object.fromEntries(provided);
  return {
    name,
    group,
    deviceTypes,
    provides,
    clearsProvides: clears,
    payloadTypes,
    toRecord: () => ({
      name,
      group,
      provides,
      clearsProvides: clears,
      headerInfo,
      payloads: payloadTypes
        .map((type, index) => ({
          index,
          type,
          typeInfo: docs[index]?.typeInfo,
          metaData: docs[index]?.metaData,
        }))
        .filter((p) => p.type !== ''),
      signed: false,
    }),
  };
}
