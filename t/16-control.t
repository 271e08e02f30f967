# replicas-control's workspace commands write what the gateway reads and
# announce it, so a change is routed at once.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(objs_dir start_redis start_upstream http_request http_json
                      free_port poll_until repo_root nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway ws_key);

my $redis = start_redis();
my $port = free_port();
my $a = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $b = start_upstream(addr => '127.0.0.3', port => $port, name => 'B');
my $gw = start_gateway(redis => $redis, ttl => '1h', wake_hold => '1s');
my $d = $gw->{domain};
my $bin = objs_dir() . '/replicas-control';
ok(-x $bin, 'replicas-control is built');

sub control {
    my $out = qx{$bin --redis 127.0.0.1:$redis->{port} @_ 2>&1};
    return ($? >> 8, $out);
}

sub name_of {
    my $r = http_request(port => $gw->{port}, host => "$port-$_[0].$d");
    return $r->{status} == 200 ? http_json($r)->{name} : $r->{status};
}

my ($rc, $out) = control('workspace put eta --state awake --addr 127.0.0.2');
is($rc, 0, 'put succeeds') or diag($out);
is(name_of('eta'), 'A', 'routed');

($rc) = control('workspace put eta --state awake --addr 127.0.0.3');
ok(poll_until(2, sub { name_of('eta') eq 'B' }), 'a change through control is routed at once');

($rc, $out) = control('workspace show eta');
like($out, qr/^state=awake$/m, 'show prints the record');

($rc) = control('workspace put eta --state sleeping');
ok(poll_until(5, sub { name_of('eta') eq '504' }), 'sleeping through control');

($rc) = control('workspace delete eta');
is($rc, 0, 'delete succeeds');
ok(poll_until(2, sub { name_of('eta') eq '404' }), 'deleted: 404');

($rc, $out) = control('workspace put Bad-Id --state awake');
is($rc, 2, 'a bad id is refused');
like($out, qr/lowercase letters and digits/, 'with a reason');
($rc) = control('workspace put ok1 --state dozing');
is($rc, 2, 'an unknown state is refused');
($rc) = control('workspace put ok1 --state awake --addr example.com');
is($rc, 2, 'a non-IP address is refused');
is($redis->cmd('EXISTS', ws_key('ok1')), 0, 'and nothing was written');
($rc) = control('frobnicate');
is($rc, 2, 'usage error');

# --help and unknown options: the usage, and nothing created ("org create
# --help" made an organisation named "--help")
my $keys_before = $redis->cmd('DBSIZE');
for my $cmd ('org create --help', 'org create -h', 'user create --org o1 --email a@b.c --help',
             'key create --help', 'key list --help', 'key revoke --help', 'login-link --help',
             'workspace put w1 --state awake --help', 'workspace show --help',
             'environment check --help', 'org --help', '--help', 'serve --help') {
    my ($code, $text) = control($cmd);
    is($code, 0, "$cmd: exit 0");
    like($text, qr/usage: replicas-control|--repo-root/, "$cmd: the usage");
}
for my $cmd ('org create --name x', 'org create -x', 'user create --org o1 --email a@b.c --bogus',
             'key create --user u1 --scope all', 'key list --org', 'login-link --user u1 --to x',
             'workspace put w1 --state awake --force') {
    my ($code, $text) = control($cmd);
    is($code, 2, "$cmd: exit 2");
    like($text, qr/unknown option or missing value/, "$cmd: says which option");
}
is($redis->cmd('DBSIZE'), $keys_before, 'none of them wrote anything to Redis');
is_deeply($redis->cmd('KEYS', 'replicas:org:*'), [], 'no organisation was made');

my $dead = qx{$bin --redis 127.0.0.1:1 workspace show x 2>&1};
is($? >> 8, 1, 'unreachable Redis: exit 1');

done_testing();
