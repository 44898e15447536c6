#!/usr/bin/env python3
#
# mkpcap.py: writes pcap savefiles of DLT_PFLOG and DLT_NFLOG records,
# as pf (macOS/NetBSD, FreeBSD, OpenBSD) and netfilter would log them,
# for the pfmon decoder's cross-checks against tcpdump and benchmarks.
# The packets are realistic (checksums, TCP options, DNS, ICMP echo,
# IPv4 options and fragments, IPv6 extension headers and fragments, AH)
# and the records vary the uid: present, absent with a uid_<N> anchor or
# prefix, absent with a cut anchor path, absent.  Standard library only.
#
#   mkpcap.py --linktype pflog|nflog [--layout 61|69|100] [--swapped]
#       [--count N] [--snaplen N] out.pcap
#   mkpcap.py --fixtures DIR
#
# --swapped writes the file, and the host-order fields of each record,
# in the byte order opposite to this host's, as a capture made on such
# a host would be.  --fixtures writes a small mixed set: NAME.pcap and
# NAME.jsonl, the JSON objects pfmon_record_json gives for each record
# (the ground truth the generator knows, not the decoder's output).

import argparse
import json
import os
import struct
import sys

DLT_PFLOG = 117
DLT_NFLOG = 239
NATIVE = '<' if sys.byteorder == 'little' else '>'
FOREIGN = '>' if NATIVE == '<' else '<'

# AF_INET6 of the OS that writes each pflog layout.
PFLOG_AF6 = {61: 30, 69: 28, 100: 24}
PFLOG_NOUID = 0xffffffff
DARWIN_NOUID = 0x7fffffff       # macOS UID_MAX
# tcpdump 4.99's names; the OS-specific tail is chosen by the layout.
ACTIONS = ['pass', 'block', 'scrub', 'noscrub', 'nat', 'nonat', 'binat',
           'nobinat', 'rdr', 'nordr', 'synproxy-drop']
ACTIONS_TAIL = {100: ['defer', 'match', 'divert', 'rt', 'afrt'],
                69: ['defer', 'match'],
                61: ['dummynet', 'nodummynet', 'nat64', 'nonat64']}
REASONS = ['match', 'bad-offset', 'fragment', 'short', 'normalize',
           'memory', 'bad-timestamp', 'congestion', 'ip-option',
           'proto-cksum', 'state-mismatch', 'state-insert', 'state-limit',
           'src-limit', 'synproxy']
REASONS_TAIL = {100: ['translate', 'no-route'], 69: ['map-failed'],
                61: ['dummynet']}
DIRS = ['in/out', 'in', 'out']

NFULA_PACKET_HDR = 1
NFULA_MARK = 2
NFULA_TIMESTAMP = 3
NFULA_IFINDEX_OUTDEV = 5
NFULA_PAYLOAD = 9
NFULA_PREFIX = 10
NFULA_UID = 11
NFULA_SEQ = 12
NFULA_GID = 14

PROTO_NAMES = {6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmp6'}


def name_of(table, tail, v, what):
    if v < len(table):
        return table[v]
    if v - len(table) < len(tail):
        return tail[v - len(table)]
    return '%s-%d' % (what, v)


def cksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def a4(s):
    return bytes(int(x) for x in s.split('.'))


def a6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def ntop6(s):
    """inet_ntop's text (RFC 5952): no "::" for a single zero group,
    which Python's ipaddress compresses."""
    g = struct.unpack('!8H', a6(s))
    best, blen, i = -1, 1, 0
    while i < 8:
        j = i
        while j < 8 and g[j] == 0:
            j += 1
        if j - i > blen:
            best, blen = i, j - i
        i = j + 1 if j == i else j
    h = ['%x' % x for x in g]
    if best < 0:
        return ':'.join(h)
    return ':'.join(h[:best]) + '::' + ':'.join(h[best + blen:])


class Pkt:
    """An IP packet and what a decoder should find in it."""

    def __init__(self, family, data, proto, src, dst, length, l4off,
                 chain=(), sport=None, dport=None, icmp=None, frag=False,
                 why=''):
        self.family = family        # 'inet' or 'inet6'
        self.data = data
        self.proto = proto          # the upper protocol
        self.src = src if family == 'inet' else ntop6(src)
        self.dst = dst if family == 'inet' else ntop6(dst)
        self.length = length        # from the IP header
        self.l4off = l4off
        self.chain = chain          # IPv6: (offset, type, bytes read)
        self.sport = sport
        self.dport = dport
        self.icmp = icmp            # (type, code)
        self.frag = frag
        self.why = why

    def expect(self, caplen):
        """The fields pfmon decodes when caplen bytes were captured."""
        end = min(caplen, self.length)
        proto = self.proto
        for off, typ, need in self.chain:
            if off + need > end:
                return {'proto': typ}
        d = {'proto': proto}
        if self.frag:
            return d
        if self.sport is not None and self.l4off + 4 <= end:
            d['sport'], d['dport'] = self.sport, self.dport
        if self.icmp is not None and self.l4off + 2 <= end:
            d['icmp_type'], d['icmp_code'] = self.icmp
        return d


def ip4(proto, src, dst, payload, ident, ttl=64, opts=b'', off=0, mf=False,
        tos=0):
    hl = 20 + len(opts)
    assert hl % 4 == 0
    fl = (0x2000 if mf else 0) | (off // 8) | (0x4000 if not mf and
                                               off == 0 else 0)
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | hl // 4, tos,
                    hl + len(payload), ident, fl, ttl, proto, 0, a4(src),
                    a4(dst)) + opts
    h = h[:10] + struct.pack('!H', cksum(h)) + h[12:]
    return h + payload


def pseudo4(src, dst, proto, n):
    return a4(src) + a4(dst) + struct.pack('!BBH', 0, proto, n)


def pseudo6(src, dst, proto, n):
    return a6(src) + a6(dst) + struct.pack('!IxxxB', n, proto)


def tcp(ps, sport, dport, seq, ack, flags, opts=b'', data=b'', win=65535):
    hl = 20 + len(opts)
    t = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, (hl // 4) << 4,
                    flags, win, 0, 0) + opts + data
    c = cksum(ps(6, len(t)) + t)
    return t[:16] + struct.pack('!H', c) + t[18:]


def udp(ps, sport, dport, data, proto=17):
    u = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
    c = cksum(ps(proto, len(u)) + u) or 0xffff
    return u[:6] + struct.pack('!H', c) + u[8:]


def icmp(ps, typ, code, rest, proto=1):
    m = struct.pack('!BBH', typ, code, 0) + rest
    c = cksum((ps(proto, len(m)) if ps else b'') + m)
    return m[:2] + struct.pack('!H', c) + m[4:]


SYN_OPTS = (b'\x02\x04\x05\xb4'             # MSS 1460
            b'\x01\x03\x03\x06'             # NOP, window scale 6
            b'\x01\x01\x08\x0a\x0b\xad\xbe\xef\x00\x00\x00\x00'  # TS
            b'\x04\x02\x00\x00')            # SACK permitted, EOL


def dns_query(qid, name, qtype=1):
    q = b''.join(bytes([len(p)]) + p.encode() for p in name.split('.'))
    return struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0) + q + \
        b'\0' + struct.pack('!HH', qtype, 1)


def v4(src, dst, proto, l4, ident, **kw):
    opts = kw.get('opts', b'')
    return ip4(proto, src, dst, l4, ident, **kw), 20 + len(opts)


def packets4():
    """IPv4 packets a sandboxed agent sends and pf or netfilter blocks."""
    out = []
    s, d = '10.0.0.5', '93.184.216.34'
    ps = lambda p, n: pseudo4(s, d, p, n)
    t = tcp(ps, 51234, 443, 0x1234abcd, 0, 0x02, SYN_OPTS)
    data, l4 = v4(s, d, 6, t, 0x1c46)
    out.append(Pkt('inet', data, 6, s, d, len(data), l4, sport=51234,
                   dport=443, why='tcp syn'))

    d = '1.1.1.1'
    ps = lambda p, n: pseudo4(s, d, p, n)
    u = udp(ps, 53001, 53, dns_query(0xbeef, 'registry.npmjs.org'))
    data, l4 = v4(s, d, 17, u, 0x1c47)
    out.append(Pkt('inet', data, 17, s, d, len(data), l4, sport=53001,
                   dport=53, why='udp dns'))

    d = '8.8.8.8'
    m = icmp(None, 8, 0, struct.pack('!HH', 0x4242, 1) + bytes(range(56)))
    data, l4 = v4(s, d, 1, m, 0x1c48)
    out.append(Pkt('inet', data, 1, s, d, len(data), l4, icmp=(8, 0),
                   why='icmp echo'))

    # IP options: router alert on UDP, record route (39 + EOL) on TCP.
    d = '239.255.255.250'
    ps = lambda p, n: pseudo4(s, d, p, n)
    u = udp(ps, 40000, 1900, b'M-SEARCH * HTTP/1.1\r\nHOST: '
            b'239.255.255.250:1900\r\nST: ssdp:all\r\n\r\n')
    data, l4 = v4(s, d, 17, u, 0x1c49, opts=b'\x94\x04\x00\x00', ttl=1)
    out.append(Pkt('inet', data, 17, s, d, len(data), l4, sport=40000,
                   dport=1900, why='udp ip options'))
    d = '140.82.112.3'
    ps = lambda p, n: pseudo4(s, d, p, n)
    rr = b'\x07\x27\x04' + bytes(36) + b'\x00'
    t = tcp(ps, 51236, 22, 0x55aa55aa, 0, 0x02, SYN_OPTS)
    data, l4 = v4(s, d, 6, t, 0x1c4a, opts=rr)
    out.append(Pkt('inet', data, 6, s, d, len(data), l4, sport=51236,
                   dport=22, why='tcp record route'))

    # A 3000-byte UDP datagram in two fragments.
    d = '203.0.113.9'
    ps = lambda p, n: pseudo4(s, d, p, n)
    u = udp(ps, 45000, 5201, bytes((i * 7) & 0xff for i in range(2992)))
    data, l4 = v4(s, d, 17, u[:1480], 0x2a2a, mf=True)
    out.append(Pkt('inet', data, 17, s, d, len(data), l4, sport=45000,
                   dport=5201, why='udp first fragment'))
    data, l4 = v4(s, d, 17, u[1480:2960], 0x2a2a, off=1480, mf=True)
    out.append(Pkt('inet', data, 17, s, d, len(data), l4, frag=True,
                   why='udp middle fragment'))
    return out


def ext(nxt, body, unit=8):
    """An IPv6 extension header (hop-by-hop, routing, dest. options)."""
    n = 2 + len(body)
    assert n % unit == 0
    return struct.pack('!BB', nxt, n // unit - 1) + body


def v6(src, dst, nxt, payload, hlim=64, flow=0x12345):
    return struct.pack('!IHBB16s16s', (6 << 28) | flow, len(payload), nxt,
                       hlim, a6(src), a6(dst)) + payload


def packets6():
    out = []
    s = '2001:db8:5b::5'
    d = '2606:2800:220:1:248:1893:25c8:1946'
    ps = lambda p, n: pseudo6(s, d, p, n)
    data = v6(s, d, 6, tcp(ps, 51300, 443, 0x600d, 0, 0x02, SYN_OPTS))
    out.append(Pkt('inet6', data, 6, s, d, len(data), 40, sport=51300,
                   dport=443, why='tcp6 syn'))

    d = '2606:4700:4700::1111'
    ps = lambda p, n: pseudo6(s, d, p, n)
    data = v6(s, d, 17, udp(ps, 53002, 53,
                            dns_query(0xcafe, 'pypi.org', 28)))
    out.append(Pkt('inet6', data, 17, s, d, len(data), 40, sport=53002,
                   dport=53, why='udp6 dns'))

    d = '2001:4860:4860::8888'
    ps = lambda p, n: pseudo6(s, d, p, n)
    m = icmp(ps, 128, 0, struct.pack('!HH', 0x77, 3) + bytes(range(56)),
             58)
    data = v6(s, d, 58, m)
    out.append(Pkt('inet6', data, 58, s, d, len(data), 40, icmp=(128, 0),
                   why='icmp6 echo'))

    # Hop-by-hop (router alert) + routing (type 0, no segments left) +
    # destination options (PadN) + TCP.
    d = '2a03:2880:f12f:83:face:b00c::25de'
    ps = lambda p, n: pseudo6(s, d, p, n)
    t = tcp(ps, 51301, 8443, 0x7777, 0, 0x02, SYN_OPTS)
    dst = ext(6, b'\x01\x04\x00\x00\x00\x00')
    rt = ext(60, b'\x00\x00\x00\x00\x00\x00' + a6(d), 8)
    hbh = ext(43, b'\x05\x02\x00\x00\x01\x00')
    data = v6(s, d, 0, hbh + rt + dst + t)
    chain = ((40, 0, 2), (48, 43, 2), (72, 60, 2))
    out.append(Pkt('inet6', data, 6, s, d, len(data), 80, chain=chain,
                   sport=51301, dport=8443, why='tcp6 ext headers'))

    # AH (RFC 4302, 12-byte ICV) + TCP.
    ah = struct.pack('!BBHII', 6, 4, 0, 0x100, 7) + bytes(12)
    data = v6(s, d, 51, ah + t)
    out.append(Pkt('inet6', data, 6, s, d, len(data), 64,
                   chain=((40, 51, 2),), sport=51301, dport=8443,
                   why='tcp6 ah'))

    # A 3000-byte UDP datagram in fragments, after a dest. options header.
    d = '2001:db8:ffff::9'
    ps = lambda p, n: pseudo6(s, d, p, n)
    u = udp(ps, 45001, 5201, bytes((i * 5) & 0xff for i in range(2992)))
    dst = ext(44, b'\x01\x04\x00\x00\x00\x00')
    fh = struct.pack('!BBHI', 17, 0, 0 | 1, 0xdeadbeef)
    data = v6(s, d, 60, dst + fh + u[:1392])
    out.append(Pkt('inet6', data, 17, s, d, len(data), 56,
                   chain=((40, 60, 2), (48, 44, 8)), sport=45001,
                   dport=5201, why='udp6 first fragment'))
    fh = struct.pack('!BBHI', 17, 0, 1392 | 1, 0xdeadbeef)
    data = v6(s, d, 44, fh + u[1392:2784])
    out.append(Pkt('inet6', data, 17, s, d, len(data), 48,
                   chain=((40, 44, 8),), frag=True,
                   why='udp6 middle fragment'))
    return out


def packets():
    return packets4() + packets6()


# Who sent it: (uid in the record or None, anchor/prefix name, the uid
# the decoder should attribute or None).
def attributions(layout):
    nouid = DARWIN_NOUID if layout == 61 else PFLOG_NOUID
    return [(501, b'', 501),
            (nouid, b'uid_502', 502),
            (None, b'sbx/uid_503', 503),
            (nouid, b'com.apple/sbx/u', None),      # path cut to 15
            (PFLOG_NOUID, b'', None),
            (0, b'uid_9', 0)]


def pflog_record(layout, order, pkt, i):
    attr = attributions(layout)[i % 6]
    uid = attr[0] if attr[0] is not None else PFLOG_NOUID
    af = 2 if pkt.family == 'inet' else PFLOG_AF6[layout]
    action = [1, 1, 1, 0, 1, 12 if layout != 61 else 11][i % 6]
    reason = [0, 0, 0, 0, 15 if layout != 61 else 0, 0][i % 6]
    direction = 2 if i % 4 else 1
    ifname = {61: b'utun3', 69: b'vtnet0', 100: b'em0'}[layout]
    ruleset = attr[1]
    rulenr = 3 + i % 5
    subrulenr = 0xffffffff if ruleset == b'' else i % 3
    pid = -1 if attr[0] in (None, PFLOG_NOUID, DARWIN_NOUID) else 4000 + i
    h = struct.pack('!BBBB16s16sII', layout, af, action, reason, ifname,
                    ruleset, rulenr, subrulenr)
    h += struct.pack(order + 'IiIi', uid, pid, PFLOG_NOUID, -1)
    h += bytes([direction])
    if layout == 100:
        ab = pkt.data[12:20] if af == 2 else pkt.data[8:40]
        sa, da = ab[:len(ab) // 2], ab[len(ab) // 2:]
        h += bytes([0, af, 0]) + sa.ljust(16, b'\0') + \
            da.ljust(16, b'\0') + struct.pack('!HH', pkt.sport or 0,
                                              pkt.dport or 0)
    elif layout == 69:
        h += bytes(3) + struct.pack(order + 'I', 0x10000 + rulenr) + b'\0'
    h = h.ljust((len(h) + 3) & ~3, b'\0')
    expect = {'linktype': 'pflog', 'uid': attr[2]}
    tail = {'action': name_of(ACTIONS, ACTIONS_TAIL[layout], action,
                              'action'),
            'dir': DIRS[direction],
            'ifname': ifname.decode(), 'ruleset': ruleset.decode(),
            'rulenr': rulenr,
            'reason': name_of(REASONS, REASONS_TAIL[layout], reason,
                              'reason')}
    return h + pkt.data, len(h), expect, tail


def tlv(order, typ, value):
    t = struct.pack(order + 'HH', 4 + len(value), typ) + value
    return t + bytes(-len(t) & 3)


def nflog_record(order, pkt, i):
    fam = 2 if pkt.family == 'inet' else 10
    uid = [1000, None, None, 1001, None, 0][i % 6]
    prefix = [b'sbxd-block', b'sbx/uid_1002', b'', b'sbx/uid_7', None,
              b'drop '][i % 6]
    r = struct.pack('!BBH', fam, 0, 5)
    r += tlv(order, NFULA_PACKET_HDR,
             struct.pack('!HBB', 0x0800 if fam == 2 else 0x86dd, 3, 0))
    if prefix is not None:
        r += tlv(order, NFULA_PREFIX, prefix + b'\0')
    r += tlv(order, NFULA_IFINDEX_OUTDEV, struct.pack('!I', 2 + i % 3))
    if i % 3 == 0:
        r += tlv(order, NFULA_MARK, struct.pack('!I', 0x5b0))
    r += tlv(order, NFULA_TIMESTAMP, struct.pack('!QQ', 1767225600 + i,
                                                 i * 1000 % 1000000))
    if uid is not None:
        r += tlv(order, NFULA_UID, struct.pack('!I', uid))
        r += tlv(order, NFULA_GID, struct.pack('!I', uid + 100))
    r += tlv(order, NFULA_SEQ, struct.pack('!I', i))
    hdrlen = len(r) + 4
    r += tlv(order, NFULA_PAYLOAD, pkt.data)
    auid = uid
    if uid is None and prefix is not None:
        last = prefix.decode().rsplit('/', 1)[-1]
        if last.startswith('uid_') and last[4:].isdigit():
            auid = int(last[4:])
    expect = {'linktype': 'nflog', 'uid': auid}
    tail = {'prefix': prefix.decode() if prefix is not None else None,
            'gid': uid + 100 if uid is not None else None}
    return r, hdrlen, expect, tail


def expect_json(pkt, caplen_ip, head, tail):
    d = dict(head)
    d['family'] = pkt.family
    e = pkt.expect(caplen_ip)
    d['proto'] = PROTO_NAMES.get(e['proto'], e['proto'])
    d['src'], d['dst'] = pkt.src, pkt.dst
    for k in ('sport', 'dport', 'icmp_type', 'icmp_code'):
        if k in e:
            d[k] = e[k]
    d['len'] = pkt.length
    d.update(tail)
    return d


def build(linktype, layout, order, count, snaplen):
    """count records cycling through the packets and attributions."""
    pkts = packets()
    period = 420        # the packets (14), attributions (6), dirs, rules
    distinct = []
    for i in range(min(count, period)):
        pkt = pkts[i % len(pkts)]
        if linktype == DLT_PFLOG:
            rec, hl, head, tail = pflog_record(layout, order, pkt, i)
        else:
            rec, hl, head, tail = nflog_record(order, pkt, i)
        cap = min(len(rec), snaplen)
        distinct.append((rec, cap, expect_json(pkt, cap - hl, head, tail)))
    for i in range(count):
        yield distinct[i % len(distinct)]


def write_pcap(path, linktype, order, records, snaplen, jsonl=None):
    with open(path, 'wb') as f:
        f.write(struct.pack(order + 'IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0,
                            snaplen, linktype))
        hdr = struct.Struct(order + 'IIII')
        t0 = 1767225600
        for i, (rec, cap, expect) in enumerate(records):
            f.write(hdr.pack(t0 + i // 1000, (i % 1000) * 1000, cap,
                             len(rec)))
            f.write(rec[:cap])
            if jsonl is not None:
                jsonl.write(json.dumps(expect, separators=(',', ':')) +
                            '\n')


def fixtures(d):
    os.makedirs(d, exist_ok=True)
    n = len(packets()) * 6
    sets = []
    for layout in (61, 69, 100):
        sets.append(('pflog-%d' % layout, DLT_PFLOG, layout, NATIVE, 65535))
        sets.append(('pflog-%d-swapped' % layout, DLT_PFLOG, layout,
                     FOREIGN, 65535))
    sets.append(('nflog', DLT_NFLOG, 0, NATIVE, 65535))
    sets.append(('nflog-swapped', DLT_NFLOG, 0, FOREIGN, 65535))
    # Snap lengths that cut inside the transport or extension headers.
    sets.append(('pflog-61-snap', DLT_PFLOG, 61, NATIVE, 64 + 42))
    sets.append(('pflog-100-snap', DLT_PFLOG, 100, FOREIGN, 100 + 46))
    sets.append(('nflog-snap', DLT_NFLOG, 0, NATIVE, 150))
    for name, lt, layout, order, snap in sets:
        with open(os.path.join(d, name + '.jsonl'), 'w') as j:
            write_pcap(os.path.join(d, name + '.pcap'), lt, order,
                       build(lt, layout, order, n, snap), snap, j)
        print('%s/%s.pcap: %d records' % (d, name, n))


def main():
    ap = argparse.ArgumentParser(description='write pflog/nflog pcaps')
    ap.add_argument('--linktype', choices=('pflog', 'nflog'))
    ap.add_argument('--layout', type=int, choices=(61, 69, 100),
                    default=61)
    ap.add_argument('--swapped', action='store_true')
    ap.add_argument('--count', type=int, default=0)
    ap.add_argument('--snaplen', type=int, default=65535)
    ap.add_argument('--fixtures', metavar='DIR')
    ap.add_argument('--expect', metavar='FILE',
                    help='also write the expected JSON lines here')
    ap.add_argument('out', nargs='?')
    a = ap.parse_args()
    if a.fixtures:
        fixtures(a.fixtures)
        return 0
    if not a.linktype or not a.out:
        ap.error('need --linktype and an output file, or --fixtures')
    lt = DLT_PFLOG if a.linktype == 'pflog' else DLT_NFLOG
    order = FOREIGN if a.swapped else NATIVE
    count = a.count or len(packets()) * 6
    j = open(a.expect, 'w') if a.expect else None
    write_pcap(a.out, lt, order, build(lt, a.layout, order, count,
                                       a.snaplen), a.snaplen, j)
    if j:
        j.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
