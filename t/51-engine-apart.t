# What the agent runs cannot read what the engine holds (issue 12): the
# engine and the processes it starts (hooks, agents' CLIs and their tools)
# are one user in one PID namespace, and the engine holds the workspace's
# platform key (from control's /start) in memory.  In a real workspace, a
# start hook, started the way an agent's CLI is, tries the engine's
# /proc/<pid>/environ, its maps and its memory, and looks for a platform
# key's text in every /proc/*/environ and cmdline it can read and in the
# engine's state dir: it finds nothing.  Root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis poll_until free_port);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces;
use Replicas::Control qw(start_control fixture_repo);

# control gives engines a platform key when it knows the platform's URL
# (as t/45): the gateway on the bridge's host address
my $redis = start_redis();
my $gport = free_port();
my $ctl = start_control(redis => $redis,
    args => ['--pool-size', 0, '--desktop', 'off', '--allow-port', $gport,
             '--repo-root', Replicas::Test::tmpdir() . '/repos']);
(my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};
$ctl->stop;
push @{ $ctl->{args} }, '--platform-url', "http://$host:$gport",
                        '--platform-host', "$Replicas::Gateway::DOMAIN:$gport";
$ctl->start;
my $gw = start_gateway(redis => $redis, port => $gport, auth => 'on', also_listen => [$host]);
my $me = new_identity($redis);
my $ws = Replicas::Workspaces->new($gw, $me->{key});

# the hook's shell is the engine's child, as an agent's CLI is: its parent
# is the engine.  It writes one "name value" line per finding.
my $probe = <<'PERL';
use strict;
my $e = getppid();
open my $out, '>', 'probe.txt' or die "probe.txt: $!";
sub slurp { my ($p) = @_; open my $f, '<:raw', $p or return (undef, "$!"); local $/;
            my $x = <$f>; return defined $x ? ($x, '') : (undef, "$!") }
my $keyre = qr/rk_[a-z0-9]{8}_[A-Za-z0-9_-]{16,}/;
my ($comm) = slurp("/proc/$e/comm");
print $out "engine $e ", ($comm // '?');
my ($env, $enverr) = slurp("/proc/$e/environ");
print $out 'environ ', defined $env ? 'read' : "refused $enverr", "\n";
my ($maps, $mapserr) = slurp("/proc/$e/maps");
print $out 'maps ', defined $maps ? 'read' : "refused $mapserr", "\n";
my ($memread, $memerr, $found) = (0, '', 0);
if (open my $mem, '<:raw', "/proc/$e/mem") {
    for (split /\n/, $maps // '') {
        my ($lo, $hi, $perm) = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
        next unless $perm =~ /^r/;
        my $len = hex($hi) - hex($lo);
        next if $len > 256 * 1024 * 1024;
        sysseek($mem, hex($lo), 0) or next;
        my $n = sysread($mem, my $buf, $len);
        if ($n) { $memread += $n; $found++ while $buf =~ /$keyre/g }
        else { $memerr ||= "$!" }
    }
} else { $memerr = "$!" }
print $out 'mem ', ($memread ? "read $memread" : "refused $memerr"), "\n";
print $out "mem_keys $found\n";
my $elsewhere = 0;
for my $p (glob('/proc/[0-9]*/environ'), glob('/proc/[0-9]*/cmdline')) {
    my ($x) = slurp($p);
    $elsewhere++ if defined $x && $x =~ $keyre;
}
my @files = ('/workspace/.replicas');
while (my $f = shift @files) {
    if (-d $f && !-l $f) { opendir my $d, $f or next; push @files, map { "$f/$_" } grep { !/^\.\.?$/ } readdir $d; next }
    my ($x) = -f $f ? slurp($f) : ();
    $elsewhere++ if defined $x && $x =~ $keyre;
}
print $out "elsewhere_keys $elsewhere\n";
PERL
my $repo = fixture_repo('apart', { 'probe.pl' => $probe, 'replicas.json' => encode_json({
    startHook => { commands => ['sleep 2; exec perl probe.pl'], timeout => 60000 } }) }, $me->{org});
my ($st, $j) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => $repo });
is($st, 201, 'a workspace');
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', "workspace $id") or diag $ctl->log;
my $sandbox = $redis->cmd('HGET', ws_key($id), 'sandbox');
my $file = "$ctl->{home}/sandboxes/$sandbox/merged/apart/probe.txt";
my %got;
ok(poll_until(60, sub { -s $file && do { local (@ARGV, $/) = $file; my $t = <>;
                                          $t =~ /^elsewhere_keys/m } }),
   'the start hook ran its probe') or diag $ctl->log;
for (do { local @ARGV = $file; <> }) { my ($k, $v) = /^(\S+) (.*)$/ or next; $got{$k} = $v }
diag "probe: " . join(', ', map { "$_=$got{$_}" } sort keys %got);
like($got{engine} // '', qr/^\d+ replicas-engine/, "the hook's parent is the engine");
# the engine had the key then: control gave it at /start (the previews use it)
my $computer = Replicas::Test::http_json($ws->preview($id, 3737, path => '/computer')) // {};
ok($computer->{platform}, 'the engine holds a platform key (GET /computer: platform true)');
like($got{environ} // '', qr/^refused/, "the engine's /proc/PID/environ cannot be read");
like($got{maps} // '', qr/^refused/, 'nor its maps');
like($got{mem} // '', qr/^refused/, 'nor its memory');
is($got{mem_keys}, 0, 'no platform key read from its memory');
is($got{elsewhere_keys}, 0, "no platform key in any process's environment or command line, nor in the state dir");

done_testing();
