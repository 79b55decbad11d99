/** `[user@]host[:port]` targets, as given in `hosts` and `jump-host`. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly username: string
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/
const IPV6 = /^[0-9A-Fa-f:.]+$/
const USERNAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/

/** Parses one target; returns a message saying what is wrong instead of throwing. */
export function parseTarget(
  spec: string,
  defaults: { port: number; username: string }
): Target | string {
  let rest = spec.trim()
  let username = defaults.username
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    username = rest.slice(0, at)
    rest = rest.slice(at + 1)
  }
  let host = rest
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest)
  if (bracketed) {
    host = bracketed[1] ?? ''
    portText = bracketed[2]
    if (!IPV6.test(host)) return `"${spec}": "${host}" is not an IPv6 address.`
  } else {
    const colon = rest.lastIndexOf(':')
    if (colon >= 0) {
      host = rest.slice(0, colon)
      portText = rest.slice(colon + 1)
    }
    if (!HOSTNAME.test(host)) {
      return `"${spec}": "${host}" is not a host name or address; write [user@]host[:port].`
    }
  }
  let port = defaults.port
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      return `"${spec}": the port must be a number from 1 to 65535.`
    }
    port = Number(portText)
  }
  if (username === '') {
    return `"${spec}": no user name; write user@${host} or set the \`username\` input.`
  }
  if (!USERNAME.test(username)) return `"${spec}": "${username}" is not a valid user name.`
  return { host, port, username }
}

/** `host:port` as a person reads it, with IPv6 in brackets. */
export function describeTarget(target: Pick<Target, 'host' | 'port'>): string {
  return target.host.includes(':')
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`
}
