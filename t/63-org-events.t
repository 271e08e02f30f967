# GET /v1/events: the organisation's workspace changes as server-sent
# events, what the dashboard's list is fed by (ngx_http_replicas_stream.c
# and lua/api.lua's org_events and watch).  A stream opens with a
# snapshot (the list), then each change of one of the org's workspaces is
# an event: created, its state, previews, deleted; another organisation's
# says nothing, not even its id.  The session cookie opens it too; a
# revoked key's stream ends; a lost subscription or a burst of changes
# brings a new snapshot, so a client folding the events ends where Redis
# is.  Presence (who has a workspace's page open) is such a change, and
# never wakes the workspace.  Real Redis and nginx; no control (the changes are published as
# control publishes them).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis http_request http_json);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity api login_link control);
use Replicas::EventStream;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', dashboard => 1);
my $host = "$gw->{domain}:$gw->{port}";
my $ada = new_identity($redis, email => 'ada@example.com');
my $bob = new_identity($redis, org => $ada->{org}, email => 'bob@example.com');
my $eve = new_identity($redis, email => 'eve@example.com');      # another org

sub stream {
    my (@h) = @_;
    return Replicas::EventStream->open(port => $gw->{port}, host => $host,
                                       path => '/v1/events', headers => \@h);
}
sub bearer { ['Authorization', "Bearer $_[0]"] }
sub ws_put {
    my ($id, $who, %f) = @_;
    put_workspace($redis, $id, org => $who->{org}, user => $who->{user}, name => $id,
                  repository => 'https://github.com/replicas/sample', agent => 'claude',
                  created => time, state_at => time, %f);
    $redis->cmd('SADD', "replicas:org-ws:$who->{org}", $id);
}
sub changed_of {
    my ($id) = @_;
    return sub { $_[0]{type} eq 'workspace.changed' && $_[0]{payload}{id} eq $id };
}

# --- refusals, as any API call's ---------------------------------------------------
my $s = stream();
is($s->status, 401, 'no credential: 401');
like($s->{body}, qr/"code":"unauthorized"/, 'in JSON');
$s = stream(bearer('rk_not_a_key'));
is($s->status, 401, 'an unknown key: 401');
my ($st) = api($gw, $ada->{key}, 'POST', '/v1/events', {});
is($st, 405, 'POST /v1/events: 405');
my $scoped = control($redis, 'key', 'create', '--user', $ada->{user}, '--workspace', 'w1');
chomp $scoped;
$s = stream(bearer($scoped));
is($s->status, 403, 'a workspace-scoped key (an engine\'s) cannot watch the organisation');

# --- the snapshot ----------------------------------------------------------------
ws_put('alpha1', $ada, state => 'awake');
ws_put('other1', $eve, state => 'awake');
my $a = stream(bearer($ada->{key}));
is($a->status, 200, 'ada\'s stream opens');
like($a->headers->{'content-type'} // '', qr{^text/event-stream}, 'as text/event-stream');
is($a->headers->{'cache-control'}, 'no-store', 'not cached');
my $ev = $a->next_event(5);
ok($ev, 'a first event') or BAIL_OUT('no snapshot');
is($ev->{data}{type}, 'snapshot', 'the snapshot first');
is($ev->{id}, $ev->{data}{id}, 'the SSE id is the envelope\'s');
ok($ev->{data}{ts} && $ev->{data}{payload}, 'the envelope {id, ts, type, payload}');
my @ids = map { $_->{id} } @{ $ev->{data}{payload}{workspaces} };
is_deeply(\@ids, ['alpha1'], 'the snapshot is the org\'s list (not another org\'s)');
is($ev->{data}{payload}{caller}{email}, 'ada@example.com', 'and says who is watching');

my $e = stream(bearer($eve->{key}));
is($e->next_event(5)->{data}{type}, 'snapshot', 'eve (another org) has a stream too');

# the session cookie (the dashboard's EventSource)
my $link = login_link($redis, $bob->{user}, "http://$host");
(my $lpath = $link) =~ s{^http://\Q$host\E}{};
my $res = http_request(port => $gw->{port}, host => $host, path => $lpath);
my ($sid) = join("\n", @{ $res->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
ok($sid, 'bob signs in with a login link');
my $b = stream(['Cookie', "replicas_session=$sid"]);
is($b->status, 200, 'bob\'s stream opens with the session cookie');
is($b->next_event(5)->{data}{payload}{caller}{email}, 'bob@example.com', 'as bob');

# --- changes -------------------------------------------------------------------
ws_put('beta2', $ada, state => 'booting');
my ($got, $before) = $a->wait_for(changed_of('beta2'), 5);
ok($got, 'a new workspace of the org: workspace.changed');
is($got->{data}{payload}{state}, 'booting', 'with its state');
is($got->{data}{payload}{owner}, $ada->{user}, 'and owner, as GET shows it');
($got) = $b->wait_for(changed_of('beta2'), 5);
ok($got, 'a member of the org sees it too');

$redis->cmd('HSET', 'replicas:ws:beta2', 'state', 'sleeping', 'sleep', 'frozen');
$redis->cmd('PUBLISH', 'replicas:ws-changed', 'beta2');
($got) = $a->wait_for(sub { changed_of('beta2')->(@_) && $_[0]{payload}{state} eq 'sleeping' }, 5);
ok($got, 'it went to sleep: the event says sleeping');

($st) = api($gw, $ada->{key}, 'POST', '/v1/workspaces/alpha1/previews',
            {port => 3000, visibility => 'public'});
is($st, 201, 'a preview made public by the API') or diag $st;
($got) = $a->wait_for(sub { changed_of('alpha1')->(@_)
                            && grep { $_->{port} == 3000 } @{ $_[0]{payload}{previews} } }, 5);
ok($got, 'the previews change is an event');

# another org's workspace: nothing, not even its id
ws_put('other1', $eve, state => 'sleeping');
($got) = $e->wait_for(changed_of('other1'), 5);
ok($got, 'eve sees her own workspace change');
ws_put('alpha1', $ada, state => 'awake', name => 'marker');
($got, $before) = $a->wait_for(changed_of('alpha1'), 5);
ok($got, 'ada\'s next event is her own');
is(scalar(grep { ($_->{raw} // '') =~ /other1/ } @$before), 0,
   'and nothing of the other org\'s came before it');
($got, $before) = $e->wait_for(sub { ($_[0]{payload}{id} // '') =~ /alpha1|beta2/ }, 2);
ok(!$got, 'eve saw nothing of ada\'s org');

# deleted
($st) = api($gw, $ada->{key}, 'DELETE', '/v1/workspaces/beta2');
is($st, 202, 'a workspace deleted by the API') or diag $st;
($got) = $a->wait_for(sub { $_[0]{type} eq 'workspace.deleted' && $_[0]{payload}{id} eq 'beta2' }, 5);
ok($got, 'workspace.deleted');

# --- presence: who has a workspace's page open ------------------------------------
# (the dashboard's "Also here"): a change of the workspace when someone
# comes or goes, never a wake nor activity
ws_put('sleepy3', $ada, state => 'sleeping', sleep => 'frozen');
my $jobs = $redis->cmd('XLEN', 'replicas:jobs');
($st, my $j) = api($gw, $bob->{key}, 'POST', '/v1/workspaces/sleepy3/presence', {});
is($st, 200, 'bob (a member of the org) is viewing ada\'s sleeping workspace') or diag explain $j;
is_deeply([map { $_->{user} } @{ $j->{viewers} }], [$bob->{user}], 'the viewers: bob');
is($j->{viewers}[0]{email}, 'bob@example.com', 'with his email');
($got) = $a->wait_for(sub { changed_of('sleepy3')->(@_) && @{ $_[0]{payload}{viewers} // [] } == 1 }, 5);
ok($got, 'someone new: the org stream says it');
is($got && $got->{data}{payload}{viewers}[0]{user}, $bob->{user}, 'who');
is($redis->cmd('HGET', 'replicas:ws:sleepy3', 'state'), 'sleeping', 'the workspace sleeps on');
is($redis->cmd('XLEN', 'replicas:jobs'), $jobs, 'no job (no wake)');
is($redis->cmd('ZSCORE', 'replicas:activity', 'sleepy3'), undef, 'and it is not activity');
($st, $j) = api($gw, $ada->{key}, 'GET', '/v1/workspaces/sleepy3');
is_deeply([map { $_->{user} } @{ $j->{viewers} }], [$bob->{user}], 'GET shows the viewers too');
ok(exists $j->{active_at} && !defined $j->{active_at}, 'no activity yet: active_at null');
$redis->cmd('ZADD', 'replicas:activity', 1700000000, 'sleepy3');
($st, $j) = api($gw, $ada->{key}, 'GET', '/v1/workspaces/sleepy3');
is($j->{active_at}, 1700000000, 'its last activity is in the view (the list\'s filter)');
$redis->cmd('ZREM', 'replicas:activity', 'sleepy3');
($st, $j) = api($gw, $ada->{key}, 'GET', '/v1/workspaces');
my ($in_list) = grep { $_->{id} eq 'sleepy3' } @{ $j->{workspaces} };
is(scalar @{ $in_list->{viewers} }, 1, 'and the list');
for my $m (['POST', {}], ['DELETE', undef]) {
    ($st, $j) = api($gw, $eve->{key}, $m->[0], '/v1/workspaces/sleepy3/presence', $m->[1]);
    is($st, 404, "another organisation's user: $m->[0] presence is 404");
    is($j->{error}{code}, 'workspace_not_found', 'not found, as for any of its calls');
}
($st) = api($gw, $eve->{key}, 'GET', '/v1/workspaces/sleepy3');
is($st, 404, 'and the workspace is not found for them');
($st) = api($gw, $scoped, 'POST', '/v1/workspaces/sleepy3/presence', {});
is($st, 403, 'an engine\'s key has no presence');
($st) = api($gw, $ada->{key}, 'PUT', '/v1/workspaces/sleepy3/presence', {});
is($st, 405, 'PUT presence: 405');
# bob's page went away without a word: 45 s later he is gone, and the
# next viewer's call says so
$redis->cmd('ZADD', 'replicas:ws-viewers:sleepy3', time - 100, $bob->{user});
($st, $j) = api($gw, $ada->{key}, 'POST', '/v1/workspaces/sleepy3/presence', {});
is_deeply([map { $_->{user} } @{ $j->{viewers} }], [$ada->{user}], 'a viewer silent for 45 s is gone');
is($redis->cmd('ZSCORE', 'replicas:ws-viewers:sleepy3', $bob->{user}), undef, 'trimmed from Redis');
($got) = $b->wait_for(sub { changed_of('sleepy3')->(@_)
                            && join(',', map { $_->{user} } @{ $_[0]{payload}{viewers} // [] }) eq $ada->{user} }, 5);
ok($got, 'bob\'s stream: ada is viewing, bob no longer');
($st, $j) = api($gw, $ada->{key}, 'DELETE', '/v1/workspaces/sleepy3/presence');
is($st, 200, 'ada leaves');
is_deeply($j->{viewers}, [], 'nobody is viewing');
($got) = $a->wait_for(sub { changed_of('sleepy3')->(@_) && @{ $_[0]{payload}{viewers} // [1] } == 0 }, 5);
ok($got, 'someone gone: an event too');
is($redis->cmd('HGET', 'replicas:ws:sleepy3', 'state'), 'sleeping', 'still sleeping');
is($redis->cmd('XLEN', 'replicas:jobs'), $jobs, 'still no job');

# --- a burst: the client's fold ends where Redis is --------------------------------
my %list = map { $_->{id} => $_ } @{ (stream(bearer($ada->{key}))->next_event(5) // {})->{data}{payload}{workspaces} // [] };
# 200 changes in one script: they reach the gateway in one read, more
# than a stream keeps waiting (32), so it is sent a snapshot instead
$redis->cmd('EVAL', <<'LUA', 0, $ada->{org}, $ada->{user}, time);
for i = 1, 200 do
    local id = 'burst' .. (i % 70)
    redis.call('HSET', 'replicas:ws:' .. id, 'org', ARGV[1], 'user', ARGV[2], 'name', id,
               'repository', 'https://github.com/replicas/sample', 'agent', 'claude',
               'created', ARGV[3], 'state_at', ARGV[3],
               'state', (i % 3 == 0) and 'sleeping' or 'awake')
    redis.call('SADD', 'replicas:org-ws:' .. ARGV[1], id)
    redis.call('PUBLISH', 'replicas:ws-changed', id)
end
LUA
my ($snapshots, $last) = (0, 0);
while (my $x = $a->next_event(3)) {
    my $d = $x->{data};
    if ($d->{type} eq 'snapshot') {
        $snapshots++;
        %list = map { $_->{id} => $_ } @{ $d->{payload}{workspaces} };
    } elsif ($d->{type} eq 'workspace.changed') {
        $list{ $d->{payload}{id} } = $d->{payload};
    } elsif ($d->{type} eq 'workspace.deleted') {
        delete $list{ $d->{payload}{id} };
    }
}
my %truth;
for my $id (@{ $redis->cmd('SMEMBERS', "replicas:org-ws:$ada->{org}") }) {
    my $state = $redis->cmd('HGET', "replicas:ws:$id", 'state');
    $truth{$id} = $state if $state && $state ne 'deleted';
}
is_deeply({ map { $_ => $list{$_}{state} } keys %list }, \%truth,
          '200 changes at once: folding the events gives what Redis holds');
ok($snapshots >= 1, "the burst overflowed the stream's wait: a snapshot ($snapshots)");

# --- the subscription lost and back: a snapshot ----------------------------------
$redis->cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
($got) = $a->wait_for(sub { $_[0]{type} eq 'snapshot' }, 10);
ok($got, 'the gateway\'s subscription was lost: a new snapshot when it is back');

# --- a revoked key's stream ends ---------------------------------------------------
my $k2 = control($redis, 'key', 'create', '--user', $ada->{user});
chomp $k2;
my $c = stream(bearer($k2));
is($c->next_event(5)->{data}{type}, 'snapshot', 'a second key of ada\'s streams');
my ($prefix) = $k2 =~ /^[a-z]+_([a-z0-9]+)_/;
my ($rc, $out) = control($redis, 'key', 'revoke', $prefix, '--org', $ada->{org});
is($rc, 0, 'the key is revoked') or diag $out;
ws_put('alpha1', $ada, state => 'awake', name => 'after-revoke');
($got) = $c->wait_for(sub { 1 }, 5);
ok(!$got, 'no event after the revocation');
ok($c->closed, 'the revoked key\'s stream has ended');
($got) = $a->wait_for(changed_of('alpha1'), 5);
ok($got, 'ada\'s other stream goes on');

# --- the client leaves: the gateway forgets it ------------------------------------
$_->close for $b, $e, $c;
ws_put('alpha1', $ada, state => 'awake', name => 'after-close');
($got) = $a->wait_for(changed_of('alpha1'), 5);
ok($got, 'streams that closed do not stop the others');

$a->close;
done_testing();
