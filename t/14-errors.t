# What people and programs see when a preview cannot be served: JSON for
# programs, HTML for browsers, the right status for each case.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace delete_workspace ws_key);

my $redis = start_redis();
my $port = free_port();
my $app = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $gw = start_gateway(redis => $redis, wake_hold => '1s');
my $d = $gw->{domain};
my $html = [['Accept', 'text/html,application/xhtml+xml,*/*;q=0.8']];

put_workspace($redis, 'zeta', state => 'awake', addr => '127.0.0.2');
put_workspace($redis, 'sleepy', state => 'sleeping', addr => '127.0.0.2');
put_workspace($redis, 'broken', state => 'failed');
put_workspace($redis, 'weird', state => 'awake', addr => 'evil.example.com');
put_workspace($redis, 'gone', state => 'deleted');

sub req { http_request(port => $gw->{port}, host => shift, @_) }

sub json_error_is {
    my ($res, $status, $code, $name) = @_;
    is($res->{status}, $status, "$name: status $status");
    like($res->{headers}{'content-type'}, qr{^application/json}, "$name: JSON");
    my $j = http_json($res);
    is($j && $j->{error}{code}, $code, "$name: code $code");
    ok($j && length $j->{error}{message}, "$name: has a message");
    return $j;
}

my $res = req("0$port-zeta.$d");
json_error_is($res, 400, 'bad_host', 'leading zero');
$res = req("0$port-zeta.$d", headers => $html);
is($res->{status}, 400, 'browser: 400');
like($res->{headers}{'content-type'}, qr{^text/html}, 'browser: HTML');
like($res->{body}, qr/<!DOCTYPE html>/, 'browser: a page');

my $j = json_error_is(req("$port-nosuch.$d"), 404, 'workspace_not_found', 'unknown workspace');
like($j->{error}{message}, qr/workspace not found/, 'says "workspace not found"');
$res = req("$port-nosuch.$d", headers => $html);
like($res->{body}, qr/workspace not found/, 'browser page says so too');

json_error_is(req("$port-gone.$d"), 404, 'workspace_not_found', 'deleted workspace');

# nothing listens on this port of an awake workspace
my $closed = free_port();
$res = req("$closed-zeta.$d");
$j = json_error_is($res, 502, 'port_not_open', 'port not open');
like($j->{error}{message}, qr/\b$closed\b/, 'names the port');
like($j->{error}{message}, qr/\bzeta\b/, 'names the workspace');
ok($res->{headers}{'retry-after'}, 'Retry-After');

$res = req("$closed-zeta.$d", path => '/deep/link?q=1', headers => $html);
is($res->{status}, 502, 'browser: 502');
like($res->{body}, qr/\b$closed\b.*\bzeta\b/s, 'page names port and workspace');
like($res->{body}, qr/http-equiv="refresh"/, 'page reloads itself at the same URL');
like($res->{body}, qr/<a href="">/, 'and has a retry link that keeps the URL');

# an app's own 502 and 504 are the app's business, passed through untouched
for my $code (502, 504) {
    $res = req("$port-zeta.$d", path => "/status/$code");
    is($res->{status}, $code, "the app's own $code passes through");
    is(http_json($res)->{name}, 'A', "with the app's own body");
}

# no control runs here: the wake is asked for, the request held, then 504
my $j2 = json_error_is(req("$port-sleepy.$d"), 504, 'wake_timeout', 'sleeping');
like($j2->{error}{message}, qr/not ready/, 'says the wake did not finish in time');
is($redis->cmd('HGET', ws_key('sleepy'), 'state'), 'provisioning',
   'a request wakes a sleeping workspace');
json_error_is(req("$port-broken.$d"), 502, 'workspace_failed', 'failed workspace');
json_error_is(req("$port-weird.$d"), 502, 'workspace_invalid',
              'an address that is not an IP is never proxied');

$res = req("$port-zeta.$d", method => 'HEAD');
is($res->{status}, 200, 'HEAD is routed');
$res = req("$port-nosuch.$d", method => 'HEAD');
is($res->{status}, 404, 'HEAD error: status only');
is($res->{body}, '', 'and no body');

$res = req("$port-nosuch.$d", method => 'POST', body => 'x' x 100_000);
is($res->{status}, 404, 'an error with a request body pending still answers');

like(req("$port-zeta.$d")->{body}, qr/"name":"A"/, 'and the gateway still serves');

done_testing();
