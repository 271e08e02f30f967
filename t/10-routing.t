# Preview hosts reach the right workspace: by host, by workspace when two
# share a port, with the Host and X-Forwarded-* headers an app expects.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port nginx_log_clean_ok poll_until);
use Replicas::Gateway qw(start_gateway put_workspace);

my $redis = start_redis();
my $app_port = free_port();
my $a = start_upstream(addr => '127.0.0.2', port => $app_port, name => 'A');
my $b = start_upstream(addr => '127.0.0.3', port => $app_port, name => 'B');
my $gw = start_gateway(redis => $redis);
my $d = $gw->{domain};

put_workspace($redis, 'alpha', state => 'awake', addr => '127.0.0.2');
put_workspace($redis, 'beta1', state => 'awake', addr => '127.0.0.3');

sub get {
    my ($host, %o) = @_;
    return http_request(port => $gw->{port}, host => $host, %o);
}

my $res = get("$app_port-alpha.$d", path => '/some/path?x=1&y=%20');
is($res->{status}, 200, 'awake workspace is proxied');
my $seen = http_json($res);
is($seen->{name}, 'A', 'alpha reaches its own upstream');
is($seen->{uri}, '/some/path?x=1&y=%20', 'path and query reach the app unchanged');
is($seen->{headers}{host}, "$app_port-alpha.$d", 'the app sees the preview Host');
is($seen->{headers}{'x-forwarded-host'}, "$app_port-alpha.$d", 'X-Forwarded-Host');
is($seen->{headers}{'x-forwarded-proto'}, 'http', 'X-Forwarded-Proto');
is($seen->{headers}{'x-forwarded-for'}, '127.0.0.1', 'X-Forwarded-For');

$res = get("$app_port-beta1.$d");
is(http_json($res)->{name}, 'B', 'same port, other workspace, other upstream');

$res = get("$app_port-alpha.$d:$gw->{port}");
is(http_json($res)->{name}, 'A', 'a Host with the gateway port routes too');
is(http_json($res)->{headers}{host}, "$app_port-alpha.$d:$gw->{port}",
   'and the app sees it as the browser sent it');

$res = get(uc("$app_port-ALPHA.$d"));
is(http_json($res)->{name}, 'A', 'host matching is case-insensitive');

$res = get("$app_port-alpha.$d", method => 'POST', body => 'payload=1',
           headers => [['Content-Type', 'application/x-www-form-urlencoded']]);
$seen = http_json($res);
is($seen->{method}, 'POST', 'POST is proxied');
is($seen->{body}, 'payload=1', 'with its body');

my $astray;
for my $i (1 .. 20) {
    my $w = $i % 2 ? 'alpha' : 'beta1';
    my $want = $i % 2 ? 'A' : 'B';
    my $r = get("$app_port-$w.$d");
    if (($r->{status} // 0) != 200 || (http_json($r) // {})->{name} ne $want) {
        $astray = "request $i to $w went astray: $r->{status}";
        last;
    }
}
ok(!$astray, 'alternating requests each reach their workspace') or diag($astray);

$res = get($d);
is($res->{status}, 200, 'the main domain is not a preview host');
like($res->{body}, qr/main site/, 'and is served by the main site');

$res = get('example.com');
is($res->{status}, 421, 'a foreign host falls to the default server, which refuses it');

# traffic is activity (for auto-sleep), written in batches every few seconds
ok(poll_until(12, sub { defined $redis->cmd('ZSCORE', 'replicas:activity', 'alpha') }),
   'proxied traffic is recorded as the workspace\'s activity');
ok(!defined $redis->cmd('ZSCORE', 'replicas:activity', 'nosuch'),
   'and only for workspaces that exist');

done_testing();
