// Redis Cluster routes a key by the hash of its `{hash tag}` when it has one, and refuses (CROSSSLOT) a script or
// transaction whose keys hash to different slots. Every key group a script or MULTI touches together is therefore
// named `<namespace>:{<owner>}:<name>`, the owner being the tenant and Kit credential it belongs to: one tenant's
// group lives on one shard, and different tenants spread over the shards. Standalone and sentinel Redis ignore tags.

/** `{parts}`, without braces inside (the first `{` … `}` pair is the tag, so a brace in a part would cut it short). */
export function hashTag(...parts: string[]): string {
  return `{${parts.map((p) => p.replace(/[{}]/g, '_')).join(':')}}`;
}
