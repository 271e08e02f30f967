# Wake-on-request in the gateway, with control played by the test: a
# request for a sleeping workspace asks for one wake, programs are held
# and released by the published change, browsers get a page that reloads.

use strict;
use warnings;
use lib "t/lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port poll_until tmpdir ws_connect repo_root);
use Replicas::Gateway qw(start_gateway put_workspace ws_key);
use Replicas::Identity qw(new_identity api);

my $redis = start_redis();
my $port = free_port();
my $app = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $gw = start_gateway(redis => $redis, wake_hold => '20s');
my $d = $gw->{domain};

sub wake_jobs {
    my ($id) = @_;
    my $all = $redis->cmd('XRANGE', 'replicas:jobs', '-', '+');
    return scalar grep {
        my %f = @{ $_->[1] };
        $f{type} eq 'wake' && $f{workspace} eq $id
    } @$all;
}

# several programs at once: one wake job, all held, all served once awake
put_workspace($redis, 'nap', state => 'sleeping', addr => '127.0.0.2', org => 'o1');
my $dir = tmpdir();
my @kids;
for my $n (1 .. 3) {
    my $pid = fork // die;
    if (!$pid) {
        my $r = http_request(port => $gw->{port}, host => "$port-nap.$d", timeout => 15);
        open my $fh, '>', "$dir/held-$n" or POSIX::_exit(1);
        print $fh $r->{status}, ' ', ($r->{status} == 200 ? http_json($r)->{name} : ''), "\n";
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

ok(poll_until(5, sub { ($redis->cmd('HGET', ws_key('nap'), 'state') // '') eq 'provisioning' }),
   'the first request wakes it: provisioning');
sleep 0.5;
is(wake_jobs('nap'), 1, 'three requests, one wake job');
ok(!-e "$dir/held-1", 'requests are held while it wakes');

# control's part: awake, announced
put_workspace($redis, 'nap', state => 'awake', addr => '127.0.0.2');
waitpid $_, 0 for @kids;
for my $n (1 .. 3) {
    open my $fh, '<', "$dir/held-$n" or die;
    chomp(my $line = <$fh>);
    is($line, '200 A', "held request $n is proxied once awake");
}

# a browser: the waiting page, at the same URL, reloading itself
put_workspace($redis, 'doze', state => 'sleeping', addr => '127.0.0.2', org => 'o1');
my $res = http_request(port => $gw->{port}, host => "$port-doze.$d", path => '/some/page?x=1',
                       headers => [['Accept', 'text/html,*/*;q=0.8']]);
is($res->{status}, 503, 'browser: 503 while waking');
like($res->{body}, qr/Waking workspace doze/, 'says it is waking');
like($res->{body}, qr/http-equiv="refresh"/, 'and reloads itself (same URL)');
ok($res->{headers}{'retry-after'}, 'with Retry-After');
is(wake_jobs('doze'), 1, 'and the wake was asked for');
$res = http_request(port => $gw->{port}, host => "$port-doze.$d", path => '/some/page?x=1',
                    headers => [['Accept', 'text/html,*/*;q=0.8']]);
is(wake_jobs('doze'), 1, 'a reload joins the wake under way');

# the organisation's limit
$redis->cmd('HSET', 'replicas:settings', 'awake_limit', 1);
$redis->cmd('SADD', 'replicas:org-awake:o2', 'busy1');
put_workspace($redis, 'late', state => 'sleeping', addr => '127.0.0.2', org => 'o2');
$res = http_request(port => $gw->{port}, host => "$port-late.$d");
is($res->{status}, 429, 'over the awake limit: 429');
is(http_json($res)->{error}{code}, 'awake_limit', 'awake_limit');
is($redis->cmd('HGET', ws_key('late'), 'state'), 'sleeping', 'it stays asleep');
is(wake_jobs('late'), 0, 'no wake job');
$redis->cmd('HDEL', 'replicas:settings', 'awake_limit');

# a WebSocket upgrade (a desktop tab, say) to a sleeping workspace: held,
# then upgraded once it is awake, and the socket works
put_workspace($redis, 'wsnap', state => 'sleeping', addr => '127.0.0.2', org => 'o1');
my $wspid = fork // die;
if (!$wspid) {
    my $sock = ws_connect(port => $gw->{port}, host => "$port-wsnap.$d", path => '/websockify');
    my $line = $sock->{status};
    if ($sock->{status} == 101) {
        $sock->send_text('hello');
        $line .= ' ' . ($sock->recv_text(5) // '');
    }
    open my $fh, '>', "$dir/ws" or POSIX::_exit(1);
    print $fh "$line\n";
    close $fh;
    POSIX::_exit(0);
}
ok(poll_until(5, sub { ($redis->cmd('HGET', ws_key('wsnap'), 'state') // '') eq 'provisioning' }),
   'a WebSocket upgrade wakes it');
sleep 0.5;
ok(!-e "$dir/ws", 'and is held while it wakes');
put_workspace($redis, 'wsnap', state => 'awake', addr => '127.0.0.2');
waitpid $wspid, 0;
open my $wsf, '<', "$dir/ws" or die;
chomp(my $wsline = <$wsf>);
is($wsline, '101 A:hello', 'then upgraded, and the socket echoes');

# the API's event stream of a sleeping workspace: held the same way, then
# proxied to the engine (port 3737 at its address) once it is awake
my $me = new_identity($redis);
start_upstream(addr => '127.0.0.3', port => 3737, name => 'engine');
put_workspace($redis, 'evs', state => 'sleeping', addr => '127.0.0.3', org => $me->{org});
my $evpid = fork // die;
if (!$evpid) {
    my ($st, $j) = api($gw, $me->{key}, 'GET', '/v1/workspaces/evs/events');
    open my $fh, '>', "$dir/events" or POSIX::_exit(1);
    print $fh "$st ", ($j && $j->{name} ? "$j->{name} $j->{uri}" : ""), "\n";
    close $fh;
    POSIX::_exit(0);
}
ok(poll_until(5, sub { ($redis->cmd('HGET', ws_key('evs'), 'state') // '') eq 'provisioning' }),
   'events of a sleeping workspace wake it');
sleep 0.5;
ok(!-e "$dir/events", 'and the stream is held while it wakes');
is(wake_jobs('evs'), 1, 'one wake job');
put_workspace($redis, 'evs', state => 'awake', addr => '127.0.0.3');
waitpid $evpid, 0;
open my $evf, '<', "$dir/events" or die;
chomp(my $evline = <$evf>);
is($evline, '200 engine /events', 'then proxied to the engine once awake');

# held past replicas_wake_hold, the wake not released: 504 wake_timeout
# (a second gateway with a short hold; no control runs here)
my $short = start_gateway(redis => $redis, wake_hold => '1s');
put_workspace($redis, 'slow', state => 'sleeping', addr => '127.0.0.2', org => 'o1');
$res = http_request(port => $short->{port}, host => "$port-slow.$d");
is($res->{status}, 504, 'past the hold: 504');
my $tj = http_json($res);
is($tj->{error}{code}, 'wake_timeout', 'wake_timeout');
like($tj->{error}{message}, qr/slow.*not ready/, 'with the reason');
ok($res->{headers}{'retry-after'}, 'with Retry-After');
# a browser held past the hold (a WebSocket upgrade, say) gets the error page
put_workspace($redis, 'slowb', state => 'sleeping', addr => '127.0.0.2', org => 'o1');
$res = http_request(port => $short->{port}, host => "$port-slowb.$d",
                    headers => [['Accept', 'text/html'], ['Connection', 'Upgrade'],
                                ['Upgrade', 'websocket']]);
is($res->{status}, 504, 'a browser past the hold: 504');
like($res->{headers}{'content-type'} // '', qr{text/html}, 'as the HTML error page');
like($res->{body}, qr/slowb.*not ready/s, 'with the reason');
# a browser navigation still gets the waiting page, which reloads itself
put_workspace($redis, 'slowp', state => 'sleeping', addr => '127.0.0.2', org => 'o1');
$res = http_request(port => $short->{port}, host => "$port-slowp.$d",
                    headers => [['Accept', 'text/html']]);
is($res->{status}, 503, 'a browser navigation: the waiting page (503)');
like($res->{body}, qr/http-equiv="refresh"/, 'which reloads itself');

put_workspace($redis, 'slowev', state => 'sleeping', addr => '127.0.0.3', org => $me->{org});
my ($st, $j) = api($short, $me->{key}, 'GET', '/v1/workspaces/slowev/events');
is($st, 504, 'an event stream held past the hold: 504');
is($j->{error}{code}, 'wake_timeout', 'wake_timeout');

# the wake is written once, in lua/wake.lua, for previews and the API
# alike; its key names are handed to it (KEYS[] built from
# common/rp_keys.h, or the API's), never spelled there
{
    my $slurp = sub {
        open my $fh, '<', repo_root() . "/ngx_replicas_module/lua/$_[0]" or die "$_[0]: $!";
        local $/;
        return <$fh>;
    };
    (my $wake = $slurp->('wake.lua')) =~ s/--[^\n]*//g;
    unlike($wake, qr/replicas:/, 'lua/wake.lua spells no key name');
    unlike($slurp->('api.lua'), qr/'state', 'provisioning'/,
           'and lua/api.lua has no wake of its own');
}

done_testing();
