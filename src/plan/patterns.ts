// The plan's LB patterns that code outside the schema checks values against again (the nginx
// adapter, the LB port). Apart from schema.ts so that they come without zod: the worker loads them
// at start-up, and zod is most of what its activities would otherwise load (RELEASE_PATTERN: names.ts).
export const LB_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
// Paths end up in shell commands and nginx includes on the LB host: plain absolute paths only.
export const LB_FILE_PATTERN = /^\/[A-Za-z0-9._/-]{1,255}$/;
// host:port as nginx's `server` takes it: a hostname, an IPv4 address or a bracketed IPv6 address.
export const UPSTREAM_ADDRESS_PATTERN = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\]):([1-9][0-9]{0,4})$/;
