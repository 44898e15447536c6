# clients.sh: the clients an agent runs, each in the clean environment
# sbxctl exec builds (never root's), reach what a restricted sandbox's
# policy allows through its proxy, and trust the sandbox ca-file: curl,
# wget (with its own wgetrc too), Python's urllib, git over HTTPS, and
# ssh, which ignores the proxy variables, through the ProxyCommand
# provisioning writes; ssh to a port the policy does not allow fails at
# once with the proxy's refusal.  Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl wget git ssh useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3	# not a per-user install: the sandbox runs it

SRV=10.215.0.1
ns_setup
ns_peer_setup "$SRV" fd00:215::1
sandbox_name SB a
uid_block 61080 61099
cat >"$T/hosts" <<EOF2
$SRV web.test tls.test ssh.test
EOF2
# A private CA: the servers' certificate is its own anchor.
make_cert tls.test web.test
peer_start http http "$SRV" 80
peer_start tls tls "$SRV" 443 "$T/cert.pem" "$T/key.pem"
# An ssh server's first words, enough to show the tunnel carries ssh.
(in_peer "$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 22))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"SSH-2.0-sbxdtest\r\n")
    c.recv(4096)
    c.close()' "$SRV" >"$T/peer.ssh" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer.ssh" || fail "ssh peer"

conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "agents" {
	default block
	private yes
	allow "web.test" "tls.test" "ssh.test:22"
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 990 999
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox policy "agents"
sandbox ca-file "$T/cert.pem"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd
ctl create "$SB" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $SB"; }

# as_sb CMD...: CMD in the sandbox, in the environment sbxctl exec makes.
as_sb() {
	ctl exec "$SB" -- "$@"
}
as_sb env >"$T/env" || fail "env"
grep -q "^HOME=$T/home/$SB\$" "$T/env" || fail "exec's HOME: $(cat "$T/env")"
grep -q "^NODE_USE_ENV_PROXY=1\$" "$T/env" || fail "no NODE_USE_ENV_PROXY"
grep -q "^SSL_CERT_FILE=$T/home/$SB/.sbx/ca-bundle.pem\$" "$T/env" ||
    fail "no SSL_CERT_FILE"
grep -q "^NODE_EXTRA_CA_CERTS=$T/home/$SB/.sbx/ca.pem\$" "$T/env" ||
    fail "no NODE_EXTRA_CA_CERTS"
grep -qi "^sudo_\|^SBXD\|^MAKEFLAGS\|^top_srcdir" "$T/env" &&
    fail "root's environment leaked: $(cat "$T/env")"
# The shells' env.sh says the same as exec's environment.
as_sb sh -c '. ~/.sbx/env.sh; env' | grep -q \
    "^SSL_CERT_FILE=$T/home/$SB/.sbx/ca-bundle.pem\$" ||
    fail "env.sh lacks SSL_CERT_FILE"

# curl, wget, urllib and git: through the proxy, trusting the CA.
[ "$(as_sb curl -sS --max-time 10 https://tls.test/)" = hello ] ||
    fail "curl https"
[ "$(as_sb wget -q -T 10 -O - http://web.test/)" = hello ] ||
    fail "wget http"
[ "$(as_sb wget -q -T 10 -O - https://tls.test/)" = hello ] ||
    fail "wget https"
# wget from its wgetrc alone, with no variable at all.
[ "$(as_sb env -i HOME="$T/home/$SB" wget -q -T 10 -O - \
    https://tls.test/)" = hello ] || fail "wget from its wgetrc"
[ "$(as_sb "$PY" -c 'import urllib.request
print(urllib.request.urlopen("https://tls.test/", timeout=10).read().decode(),
      end="")')" = hello ] || fail "python urllib https"
as_sb git ls-remote https://tls.test/repo.git >"$T/git" 2>&1 &&
    fail "git took a web page for a repository"
grep -q "SSL certificate\|Could not resolve\|Failed to connect" "$T/git" &&
    fail "git did not reach the server: $(cat "$T/git")"
grep -q "tls.test/repo.git" "$T/git" || fail "git: $(cat "$T/git")"
# Without the CA, the same curl fails: it is the ca-file that works.
as_sb env -u SSL_CERT_FILE -u CURL_CA_BUNDLE curl -sS --max-time 10 \
    --cacert /etc/ssl/certs/ca-certificates.crt https://tls.test/ \
    >/dev/null 2>&1 && fail "tls.test trusted without the ca-file"

# ssh: through the ProxyCommand to an allowed host:22 ...
as_sb ssh -v -o BatchMode=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=no ssh.test true >"$T/ssh" 2>&1
grep -q "remote software version sbxdtest" "$T/ssh" ||
    fail "ssh did not reach ssh.test: $(cat "$T/ssh")"
# ... and refused at once, with the proxy's reason, elsewhere.
start=$(date +%s)
as_sb ssh -o BatchMode=yes -o ConnectTimeout=30 -p 2222 \
    -o StrictHostKeyChecking=no ssh.test true >"$T/ssh2" 2>&1 &&
    fail "ssh reached ssh.test:2222"
grep -q "sbxd proxy: HTTP/1.1 403" "$T/ssh2" ||
    fail "ssh to 2222: $(cat "$T/ssh2")"
[ $(($(date +%s) - start)) -le 5 ] || fail "ssh to 2222 took long"

ctl rm "$SB" >/dev/null || fail "rm $SB"
stop_sbxd
pass
