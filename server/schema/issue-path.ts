/** A JSON Pointer from a schema error (`/dhcp/subnets/0/cidr`) as the dotted path operators read (`dhcp.subnets.0.cidr`). */
export function dottedPath(pointer: string): string {
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}
