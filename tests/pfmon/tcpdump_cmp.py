#!/usr/bin/env python3
#
# tcpdump_cmp.py: compares what sbxd -r printed for a capture (JSON
# lines) with what tcpdump -n -e -r printed for it (one line per
# record), field by field where tcpdump shows the field: addresses,
# ports, protocol, and for pflog the rule number, ruleset, action,
# reason, direction and interface; for nflog the address family.
# Names tcpdump does not know (it prints unkn(N)) are not compared.
# Standard library only.
#
#   tcpdump_cmp.py sbxd.jsonl tcpdump.txt

import json
import re
import sys

PFLOG = re.compile(r'^\S+ rule (\d+)(?:\.(.*)\.(\d+))?/'
                   r'(?:\d+\(([^)]*)\)|unkn\(\d+\)): '
                   r'(\S+) (in|out|in/out|fwd|unkn\(\d+\)) on ([^:]*): (.*)$')
NFLOG = re.compile(r'^\S+ version 0, resource ID (\d+), '
                   r'family (IPv4|IPv6) \(\d+\), length \d+: (.*)$')
PROTO_NUM = {'tcp': 6, 'udp': 17, 'icmp': 1, 'icmp6': 58}
PROTO_SEEN = {'tcp': ('Flags [', '[|tcp]'),
              'udp': ('UDP', '[|udp]', '[|domain]', 'A? ', 'AAAA? '),
              'icmp': ('ICMP ',),
              'icmp6': ('ICMP6',)}


def check_packet(rec, text, why):
    """
    Addresses, ports and protocol of one record against the text.
    Returns False if tcpdump printed too little to compare: a record cut
    by the snap length, which tcpdump gives up on sooner than sbxd.
    """
    cut = '[|' in text
    if cut and not text.startswith(rec['src'] + ' > ') and \
            not text.startswith(rec['src'] + '.'):
        return False
    if rec['proto'] in ('tcp', 'udp') and 'sport' in rec:
        a = '%s.%d > %s.%d' % (rec['src'], rec['sport'], rec['dst'],
                               rec['dport'])
        b = '%s > %s: ' % (rec['src'], rec['dst'])
        c = '%d > %d: ' % (rec['sport'], rec['dport'])
        if not (text.startswith(a + ':') or
                (text.startswith(b) and c in text)):
            why.append('addresses/ports %s' % a)
    elif not text.startswith('%s > %s' % (rec['src'], rec['dst'])):
        why.append('addresses %s > %s' % (rec['src'], rec['dst']))
    seen = PROTO_SEEN.get(rec['proto'])
    if cut or seen is None or any(s in text for s in seen):
        return True
    # A later fragment, or an IP header tcpdump did not look past.
    if 'sport' not in rec and ('frag (' in text or 'ip-proto-%d' %
                               PROTO_NUM[rec['proto']] in text):
        return True
    why.append('proto %s' % rec['proto'])
    return True


def check_pflog(rec, m, why):
    rulenr, ruleset, _, reason, action, d, ifname, text = m.groups()
    if int(rulenr) != rec['rulenr']:
        why.append('rulenr %s' % rulenr)
    if (ruleset or '') != rec['ruleset']:
        why.append('ruleset %r' % ruleset)
    if reason is not None and reason != rec['reason']:
        why.append('reason %s' % reason)
    if not action.startswith('unkn') and action != rec['action']:
        why.append('action %s' % action)
    if not d.startswith('unkn') and d != rec['dir']:
        why.append('dir %s' % d)
    if ifname != rec['ifname']:
        why.append('ifname %s' % ifname)
    return check_packet(rec, text, why)


def check_nflog(rec, m, why):
    fam = {'IPv4': 'inet', 'IPv6': 'inet6'}[m.group(2)]
    if fam != rec['family']:
        why.append('family %s' % fam)
    return check_packet(rec, m.group(3), why)


def main():
    recs = [json.loads(l) for l in open(sys.argv[1])]
    lines = open(sys.argv[2]).read().splitlines()
    if len(recs) != len(lines):
        print('%d records from sbxd, %d lines from tcpdump' %
              (len(recs), len(lines)))
        return 1
    bad = compared = skipped = 0
    for n, (rec, line) in enumerate(zip(recs, lines), 1):
        if 'error' in rec:
            skipped += 1
            continue
        why = []
        pflog = rec['linktype'] == 'pflog'
        m = (PFLOG if pflog else NFLOG).match(line)
        if m is None and '[|nflog]' in line:
            skipped += 1        # tcpdump wants every TLV whole
            continue
        if m is None:
            why.append('tcpdump line not understood')
        elif not (check_pflog if pflog else check_nflog)(rec, m, why):
            skipped += 1
            continue
        compared += 1
        if why:
            bad += 1
            if bad <= 10:
                print('record %d: %s\n  sbxd:    %s\n  tcpdump: %s' %
                      (n, ', '.join(why), json.dumps(rec), line))
    print('%d records compared, %d differ, %d not shown by tcpdump' %
          (compared, bad, skipped))
    return 1 if bad or compared == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
