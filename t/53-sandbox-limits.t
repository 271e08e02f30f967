# A workspace's limits and what its sandbox lets it do, seen from inside
# (a start hook runs a script and writes what it saw) and from the host:
# a disk quota the kernel enforces (ENOSPC inside, the host's disk spared),
# a CPU quota in its cgroup, usage in the API, no nested user namespace,
# no keyrings, no ptrace, no host /etc, no host path in mountinfo; the
# disk unmounted while it sleeps, back at wake.  Needs root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces;
use Replicas::Control qw(start_control fixture_repo is_mount);

my $redis = start_redis();
# the helpers poll the API (wait_state): room for them under the key's rate
my $gw = start_gateway(redis => $redis, auth => 'on', rate => 100000);
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--memory', 256, '--disk', 64,
                                 '--cpus', '0.5',
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);

# what the workspace sees, one "name=value" a line, kept in /tmp while the
# disk is full; once (a wake runs the start hook again); at its end the
# disk is left full
my $checks = <<'SH';
mkdir checks.once 2>/dev/null || exit 0
{
fallocate -l 1G /workspace/big 2>&1; echo "fallocate=$?"
rm -f /workspace/big
dd if=/dev/zero of=/workspace/big bs=1M count=1024 2>&1 | grep -o 'No space left on device' | head -1
rm -f /workspace/big
unshare -U true 2>&1; echo "unshare=$?"
unshare -Urm sh -c 'mount -t tmpfs none /tmp && echo MOUNTED' 2>&1; echo "unshare-mount=$?"
python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    r = libc.syscall(*args)
    print("%s=%s" % (name, "ok" if r >= 0 else os.strerror(ctypes.get_errno())))
call("keyctl", 250, 0, -3, 1)
call("add_key", 248, b"user", b"x", b"y", 1, -3)
call("ptrace", 101, 0, 0, 0, 0)
call("mount", 165, b"none", b"/tmp", b"tmpfs", 0, 0)
call("bpf", 321, 0, 0, 0)
'
for f in /etc/shadow /etc/gshadow /etc/hostname /etc/machine-id /etc/subuid; do
    [ -e $f ] && echo "visible=$f"
done
echo "passwd_lines=$(wc -l < /etc/passwd)"
python3 -c 'import socket; print("own_name=" + socket.gethostbyname(socket.gethostname()))'
[ -e /etc/gitconfig ] || [ -e /etc/pip.conf ] || [ -e /etc/npmrc ] || echo "host_settings=none"
echo "whoami=$(id -un)"
git --version >/dev/null 2>&1 && echo "git=ok"
python3 -c 'import ssl; print("certs=%d" % ssl.create_default_context().cert_store_stats()["x509_ca"])'
node -e 'console.log("node=ok")' 2>&1
[ -x /opt/replicas/agents/node_modules/.bin/claude ] && echo "claude_cli=present"
chromium --version >/dev/null 2>&1 && echo "chromium=ok"
cat /proc/self/mountinfo > /tmp/mountinfo; cp /tmp/mountinfo mountinfo.txt
echo "end=1"
} > /tmp/checks.tmp 2>&1
cp /tmp/checks.tmp checks.out
# full: the API must say so
dd if=/dev/zero of=/workspace/fill bs=1M count=2048 2>/dev/null
SH
my $repo = fixture_repo('limits', { 'checks.sh' => $checks, 'replicas.json' => encode_json(
    { startHook => { commands => ['sh checks.sh'], timeout => 120000 } }) }, $me->{org});

my $free_before = host_free($ctl->{home});
my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
is($st, 201, 'a workspace');
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', "awake ($id)") or diag $ctl->log;
my $sb = $redis->cmd('HGET', ws_key($id), 'sandbox');
my $dir = "$ctl->{home}/sandboxes/$sb";
my $out = "$dir/merged/limits/checks.out";
ok(poll_until(60, sub { -s $out }), 'the checks ran inside') or diag $ctl->log;
my $seen = slurp($out);
diag 'NULs in output' if $seen =~ /\0/;
my %v = $seen =~ /^(\w[\w-]*)=(.*)$/mg;
note $seen;

# --- disk ---------------------------------------------------------------------
ok(defined $v{fallocate} && $v{fallocate} != 0, 'fallocate past the quota fails inside');
like($seen, qr/fallocate: .*No space left on device/, 'with ENOSPC');
like($seen, qr/^No space left on device$/m, 'so does dd, once the disk is full');
ok(poll_until(30, sub { -e "$dir/merged/fill" }), 'the disk was left full');
my $allocated = 0;
$allocated += (lstat $_)[12] * 512 for grep { -f $_ && !-l $_ } glob("$dir/*");
cmp_ok($allocated, '<=', 70 << 20, "the sandbox's files on the host hold at most its quota ($allocated)");
ok(is_mount("$dir/disk"), 'its disk image is mounted while awake');

# --- CPU ------------------------------------------------------------------------
my $v2 = -e '/sys/fs/cgroup/cgroup.controllers';
my $cg = $v2 ? "/sys/fs/cgroup/replicas-$ctl->{net}/$sb/cpu.max"
             : "/sys/fs/cgroup/cpu/replicas-$ctl->{net}/$sb/cpu.cfs_quota_us";
my $quota = slurp($cg) // '';
like($quota, $v2 ? qr/^50000 100000$/ : qr/^50000$/, "half a CPU in its cgroup ($cg)");

# --- usage in the API ---------------------------------------------------------
# polled in Redis (the API limits a key's requests), then read once
ok(poll_until(30, sub { ($redis->cmd('HGET', ws_key($id), 'usage_warning') // '') ne '' }),
   'control measured a full disk');
(undef, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
my $u = $j->{usage};
ok($u && $u->{warning}, 'usage in GET /v1/workspaces/{id}') or diag explain $j;
cmp_ok($u->{disk_limit_bytes}, '>', 40 << 20, 'disk limit about --disk');
cmp_ok($u->{disk_limit_bytes}, '<=', 64 << 20, 'and no more');
cmp_ok($u->{disk_bytes}, '>=', $u->{disk_limit_bytes} * 0.95, 'disk nearly all used');
# the engine's own health says so too (what the agent and the dashboard read)
my $eh;
ok(poll_until(30, sub {
    my $r = $ws->preview($id, 3737, path => '/healthz');
    $eh = $r->{status} == 200 ? eval { decode_json($r->{body}) } : undef;
    $eh && $eh->{disk} && $eh->{disk}{full} }), "the engine's /healthz: the disk is full")
    or diag explain $eh;
like($eh->{disk}{warning} // '', qr/disk is full.*No space left on device/,
     'with a warning that says what fails');
cmp_ok($eh->{disk}{total_bytes} // 0, '<=', 64 << 20, 'its size is the quota');
like($u->{warning}, qr/disk is full/, 'a warning says the disk is full');
is($u->{memory_limit_bytes}, 256 << 20, 'memory limit as --memory');
cmp_ok($u->{memory_bytes}, '>', 0, 'memory in use');
cmp_ok($u->{memory_bytes}, '<=', $u->{memory_limit_bytes}, 'within it');
cmp_ok($u->{cpu_seconds}, '>', 0, 'CPU time used');
# the 2 GiB the workspace tried to keep in its fill file (half of it as
# the margin for whatever else this machine writes meanwhile)
my $free_after = host_free($ctl->{home});
cmp_ok($free_before - $free_after, '<', 1 << 30,
       'the host filesystem did not give the 2 GiB written inside');
unlink "$dir/merged/fill";
ok(poll_until(30, sub { ($redis->cmd('HGET', ws_key($id), 'usage_warning') // 'x') eq '' }),
   'files deleted: the warning goes');
(undef, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
ok(!exists $j->{usage}{warning}, 'and the API shows none');
cmp_ok($j->{usage}{disk_bytes}, '<', 32 << 20, 'with the disk mostly free');

# --- the sandbox ----------------------------------------------------------------
isnt($v{unshare}, 0, 'no new user namespace inside (unshare -U)');
isnt($v{'unshare-mount'}, 0, 'so no mount in one');
unlike($seen, qr/MOUNTED/, 'nothing was mounted');
is($v{keyctl}, 'Operation not permitted', 'keyctl refused');
is($v{add_key}, 'Operation not permitted', 'add_key refused');
is($v{ptrace}, 'Operation not permitted', 'ptrace refused');
is($v{mount}, 'Operation not permitted', 'mount refused');
is($v{bpf}, 'Operation not permitted', 'bpf refused');
unlike($seen, qr/^visible=/m, "no host-only /etc file visible (shadow, hostname, machine-id, ...)");
is($v{passwd_lines}, 3, 'its own passwd: root, its user, nobody');
is($v{own_name}, '127.0.1.1', 'its own name resolves (its /etc/hosts)');
is($v{host_settings}, 'none', "none of the host users' settings (gitconfig, pip.conf, npmrc)");
like($v{whoami} // '', qr/^\S+$/, "its user has a name ($v{whoami})");
is($v{git}, 'ok', 'git runs');
cmp_ok($v{certs} // 0, '>', 0, "python3 runs and finds the CA certificates");
is($v{node}, 'ok', 'node runs');
is($v{claude_cli}, 'present', "the agents' CLIs are there");
is($v{chromium}, 'ok', 'chromium runs');
is($v{end}, 1, 'the checks ran to their end');
my $mountinfo = slurp("$dir/merged/limits/mountinfo.txt") // '';
like($mountinfo, qr{ /workspace }, 'mountinfo read');
unlike($mountinfo, qr/\Q$ctl->{home}\E/, "no REPLICAS_HOME path in the sandbox's mountinfo");

# --- sleep: no mount left; wake: back, with its files --------------------------
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'it sleeps') or diag $ctl->log;
ok(!is_mount("$dir/merged") && !is_mount("$dir/disk"), 'its disk unmounted while asleep');
ok(poll_until(30, sub { loop_of("$dir/disk.img") eq '' }), 'and its loop device gone (autoclear)')
    or diag loop_of("$dir/disk.img"), "\nmounted still in: ",
            `grep -l "$dir/disk" /proc/[0-9]*/mountinfo 2>/dev/null | head -5 | sed 's|/mountinfo||' | xargs -r -n1 -I{} sh -c 'echo {} \$(tr "\\0" " " < {}/cmdline)'`;
api($gw, $key, 'POST', "/v1/workspaces/$id/wake");
is($ws->wait_state($id, 'awake'), 'awake', 'it wakes') or diag $ctl->log;
ok(is_mount("$dir/disk"), 'its disk is mounted again');
is(slurp($out), $seen, 'with what it wrote before');

# --- delete ---------------------------------------------------------------------
api($gw, $key, 'DELETE', "/v1/workspaces/$id");
ok(poll_until(30, sub { !-d $dir }), 'deleted: its disk is gone') or diag $ctl->log;
ok(poll_until(10, sub { loop_of("$dir/disk.img") eq '' }), 'no loop device left');

# --- an organisation's own disk size (its record's disk_mib) ---------------------
$redis->cmd('HSET', "replicas:org:$me->{org}", 'disk_mib', 40);
my $plain = fixture_repo('plain', { 'index.html' => "plain\n" }, $me->{org});
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $plain });
my $small = $j->{id};
is($ws->wait_state($small, 'awake'), 'awake', "a workspace of an organisation with disk_mib 40 ($small)")
    or diag $ctl->log;
ok(poll_until(30, sub { $redis->cmd('HGET', ws_key($small), 'usage_at') }), 'its usage measured');
(undef, $j) = api($gw, $key, 'GET', "/v1/workspaces/$small");
my $su = $j->{usage} // {};
cmp_ok($su->{disk_limit_bytes}, '<=', 40 << 20, "its disk is the organisation's size ($su->{disk_limit_bytes})");
cmp_ok($su->{disk_limit_bytes}, '<', $u->{disk_limit_bytes}, 'smaller than --disk 64 gives');

# --- a sandbox made before disk images (upgrade): upper/ beside merged/ ----------
api($gw, $key, 'POST', "/v1/workspaces/$small/sleep");
is($ws->wait_state($small, 'sleeping'), 'sleeping', 'it sleeps');
my $old = "$ctl->{home}/sandboxes/" . $redis->cmd('HGET', ws_key($small), 'sandbox');
my @user = getpwnam('replicas-ws');
unlink "$old/disk.img";
mkdir "$old/$_" for qw(upper work run);
chown $user[2], $user[3], "$old/upper", "$old/run";
api($gw, $key, 'POST', "/v1/workspaces/$small/wake");
is($ws->wait_state($small, 'awake'), 'awake', 'the old layout wakes') or diag $ctl->log;
ok(-d "$old/upper/.home", 'on its upper/ directory as before');
api($gw, $key, 'DELETE', "/v1/workspaces/$small");

done_testing();

sub slurp {
    open my $fh, '<', $_[0] or return undef;
    local $/;
    my $s = <$fh>;
    chomp $s if defined $s && $_[0] =~ m{/sys/};
    return $s;
}

sub host_free {
    my $o = qx{df -B1 --output=avail '$_[0]' | tail -1};
    return $o + 0;
}


# the loop devices on an image (by its path: also once it is deleted)
sub loop_of {
    return join '', grep { index($_, $_[0]) >= 0 } qx{losetup -a 2>/dev/null};
}
