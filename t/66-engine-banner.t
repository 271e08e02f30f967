# The engine health banner (issue 13): GET /v1/workspaces/{id}/engine,
# the workspace's engine's GET /healthz through the gateway, and the
# dashboard's banner "The workspace's engine is not answering (<reason>)."
# No sandbox: Redis, the gateway with the dashboard, and a stand-in
# engine on a loopback address of its own (the engine's fixed port 3737)
# that answers as the test says: JSON (healthy), nothing (it hangs), 500,
# 200 text/html; a second address where nothing listens.  The API's
# checks (roles, another org, a workspace-scoped key, a sleeping workspace
# not woken, never activity, nothing of the caller's request reaching the
# engine, the gateway's 502/504 in JSON), then in Chromium each banner's
# words, Retry, and the banner gone once the engine answers again.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use IO::Select;
use IPC::Open2;
use Replicas::Test qw(start_redis http_request http_json tmpdir objs_dir repo_root);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity api login_link control);
use Replicas::ScriptedServer;

# addresses no other test uses: the stand-in, and one where nothing listens
my ($eaddr, $deadaddr) = ('127.0.66.1', '127.0.66.2');

my $chromium = '/usr/bin/chromium';
ok(-x $chromium, 'Chromium is installed') or BAIL_OUT('chromium missing: run ./auto/test');

my $unit = qx{node --test @{[ repo_root() ]}/ngx_replicas_module/dashboard/test/health.test.mjs 2>&1};
is($?, 0, 'the engine check\'s classification passes its unit tests (node --test)') or diag $unit;

# --- the stand-in engine ------------------------------------------------------------
# The mode file says how it answers; each request is kept (path, the
# names of its headers) for the assertions.
my $dir = tmpdir();
my $mode_file = "$dir/engine-mode";
my $seen_file = "$dir/engine-seen.jsonl";
sub mode { open my $fh, '>', $mode_file or die; print $fh $_[0]; close $fh }
sub seen {
    open my $fh, '<', $seen_file or return [];
    return [ map { decode_json($_) } <$fh> ];
}
mode('ok');

# until the gateway closes the connection (or a minute)
sub hold {
    my ($c) = @_;
    my $sel = IO::Select->new($c);
    for (1 .. 60) {
        next unless $sel->can_read(1);
        my $n = sysread($c, my $buf, 4096);
        return unless $n;
    }
}

my $engine = Replicas::ScriptedServer->start(addr => $eaddr, port => 3737, name => 'engine',
    answer => sub {
        my ($c, $method, $path, $h) = @_;
        if (open my $fh, '>>', $seen_file) {
            print $fh encode_json({ method => $method, path => $path, headers => [sort keys %$h] }), "\n";
            close $fh;
        }
        open my $mf, '<', $mode_file; my $mode = <$mf> // 'ok'; close $mf;
        local $SIG{PIPE} = 'IGNORE';
        if ($mode eq 'hang') {
            return hold($c);                    # no answer at all
        }
        if ($mode eq '500') {
            print {$c} "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                . "Content-Length: 6\r\nConnection: close\r\n\r\nbroken";
            return;
        }
        if ($mode eq 'html') {
            my $b = "<html><body>not the engine</body></html>";
            print {$c} "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                . 'Content-Length: ' . length($b) . "\r\nConnection: close\r\n\r\n$b";
            return;
        }
        if ($path =~ m{^/events}) {             # the chat's stream: open, quiet
            print {$c} "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                . "Cache-Control: no-store\r\nConnection: close\r\n\r\n: ok\n\n";
            return hold($c);
        }
        if ($path =~ m{^/hooks}) {
            return Replicas::ScriptedServer::send_json($c, 200,
                { start => { state => 'done', exit => 0, log => "ready\n" }, warm => { state => 'none' } });
        }
        return Replicas::ScriptedServer::send_json($c, 200, { ok => JSON::PP::true, version => 'stand-in' });
    });

# --- the stack ------------------------------------------------------------------------
my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', dashboard => 1);
my $host = "$gw->{domain}:$gw->{port}";
my $main = "http://$host";
my $ada = new_identity($redis, email => 'ada@example.com');
my (undef, $muser) = control($redis, 'user', 'create', '--org', $ada->{org}, '--email', 'mo@example.com');
chomp $muser;
my (undef, $mkey) = control($redis, 'key', 'create', '--user', $muser);
chomp $mkey;
my $eve = new_identity($redis, email => 'eve@example.com');           # another org
my (undef, $scoped) = control($redis, 'key', 'create', '--user', $ada->{user}, '--workspace', 'eng1');
chomp $scoped;

sub ws_put {
    my ($id, %f) = @_;
    put_workspace($redis, $id, org => $ada->{org}, user => $ada->{user}, name => "engine $id",
                  repository => 'https://github.com/replicas/sample', agent => 'claude',
                  created => time, state_at => time, %f);
    $redis->cmd('SADD', "replicas:org-ws:$ada->{org}", $id);
}
ws_put('eng1', state => 'awake', addr => $eaddr);
ws_put('eng2', state => 'sleeping', sleep => 'frozen', addr => $eaddr);
# GET .../engine with this key (and headers): (status, JSON or undef, response)
sub engine_of {
    my ($key, $id, @h) = @_;
    push @h, ['Authorization', "Bearer $key"] if defined $key;
    my $res = http_request(port => $gw->{port}, host => $host, path => "/v1/workspaces/$id/engine",
                           headers => \@h, timeout => 40);
    return ($res->{status}, scalar(http_json($res)), $res);
}

# --- the API route ------------------------------------------------------------------------
my ($st, $j, $res) = engine_of(undef, 'eng1');
is($st, 401, 'no credential: 401');
is($j->{error}{code}, 'unauthorized', 'in JSON');
is(scalar @{ seen() }, 0, 'and the engine was not asked');

($st, $j, $res) = engine_of($ada->{key}, 'eng1', ['Cookie', 'app=1; replicas_session=x'],
                            ['X-Replicas-Preview-Token', 't']);
is($st, 200, 'the owner asks: 200') or diag explain $res;
like($res->{headers}{'content-type'} // '', qr{^application/json}, 'the engine\'s JSON');
is($j->{version}, 'stand-in', 'its /healthz answer, passed on');
my $req = seen()->[-1];
is($req->{path}, '/healthz', 'proxied to the engine\'s GET /healthz');
is($req->{method}, 'GET', 'a GET');
is_deeply([grep { !/^(host|connection)$/ } @{ $req->{headers} }], [],
          'nothing of the caller\'s request reaches the engine (no Authorization, Cookie, token)')
    or diag explain $req;

($st) = engine_of($ada->{key}, 'eng1?ports=now');
is(seen()->[-1]{path}, '/healthz', 'a query of the caller\'s is not passed on');
($st) = api($gw, $ada->{key}, 'POST', '/v1/workspaces/eng1/engine', {});
is($st, 405, 'POST: 405');

($st, $j) = engine_of($mkey, 'eng1');
is($st, 403, 'a member, not its owner nor a collaborator: 403');
is($j->{error}{code}, 'not_your_workspace', 'as for hooks and git');
($st) = api($gw, $ada->{key}, 'PUT', '/v1/workspaces/eng1/collaborators',
          { collaborators => [$muser] });
is($st, 200, 'made a collaborator');
($st) = engine_of($mkey, 'eng1');
is($st, 200, 'then the member may ask');
($st, $j) = engine_of($eve->{key}, 'eng1');
is($st, 404, 'another organisation\'s user: 404');
is($j->{error}{code}, 'workspace_not_found', 'not found, as for any of its calls');
($st, $j) = engine_of($scoped, 'eng1');
is($st, 403, 'a workspace-scoped key (an engine\'s own) may not');

# a sleeping workspace: not woken, not asked
my $jobs = $redis->cmd('XLEN', 'replicas:jobs');
my $asked = scalar @{ seen() };
($st, $j) = engine_of($ada->{key}, 'eng2');
is($st, 409, 'a sleeping workspace: 409');
is($j->{error}{code}, 'workspace_not_awake', 'workspace_not_awake');
like($j->{error}{message}, qr/eng2 is sleeping/, 'saying its state');
is($redis->cmd('HGET', 'replicas:ws:eng2', 'state'), 'sleeping', 'it sleeps on');
is($redis->cmd('XLEN', 'replicas:jobs'), $jobs, 'no job (no wake)');
is(scalar @{ seen() }, $asked, 'and its engine was not asked');

# what the gateway gives for each failure of the engine
mode('500');
($st, $j, $res) = engine_of($ada->{key}, 'eng1');
is($st, 500, 'the engine\'s 500: passed on as it is');
is($res->{body}, 'broken', 'with its body');
mode('html');
($st, $j, $res) = engine_of($ada->{key}, 'eng1');
is($st, 200, 'the engine\'s 200 in HTML: passed on');
like($res->{headers}{'content-type'} // '', qr{^text/html}, 'as text/html (the dashboard judges it)');
mode('hang');
($st, $j, $res) = engine_of($ada->{key}, 'eng1');
is($st, 504, 'an engine that does not answer: the gateway\'s 504 (after its 15 s; the dashboard gives up at 10 s)');
is($j->{error}{code}, 'engine_timeout', 'in JSON: engine_timeout') or diag $res->{raw};
mode('ok');
$redis->cmd('HSET', 'replicas:ws:eng1', 'addr', $deadaddr);
($st, $j, $res) = engine_of($ada->{key}, 'eng1');
is($st, 502, 'nothing listening on the engine\'s address: the gateway\'s 502');
is($j->{error}{code}, 'engine_unreachable', 'in JSON: engine_unreachable') or diag $res->{raw};
like($res->{headers}{'content-type'} // '', qr{^application/json}, 'not nginx\'s HTML page');
($st, $j) = api($gw, $ada->{key}, 'GET', '/v1/workspaces/eng1/hooks');
is($st, 502, 'the other proxied calls too (hooks): 502');
is($j->{error}{code}, 'engine_unreachable', 'in the same JSON');
$redis->cmd('HSET', 'replicas:ws:eng1', 'addr', $eaddr);
is($redis->cmd('ZSCORE', 'replicas:activity', 'eng1'), undef,
   'checking the engine is never activity (it would keep the workspace awake)');

# --- in Chromium ----------------------------------------------------------------------
# The browser script asks for each mode ("mode X" on its stdout) and goes
# on once the test answers ("ok"); the last line is what it saw.
my $shots = $ENV{REPLICAS_SHOTS} // "$dir/shots";
mkdir $shots;
{
    local $ENV{NODE_PATH} = objs_dir() . '/node/node_modules';
    local $ENV{CHROMIUM} = $chromium;
    local $ENV{MAIN} = $main;
    local $ENV{LOGIN_LINK} = login_link($redis, $ada->{user}, $main);
    local $ENV{WS} = 'eng1';
    local $ENV{SLEEPING} = 'eng2';
    local $ENV{SHOTS} = $shots;
    my $pid = open2(my $out, my $in, 'node', repo_root() . '/t/browser/engine-banner.js');
    $in->autoflush(1);
    my ($seen, @log);
    while (my $line = <$out>) {
        chomp $line;
        if ($line =~ /^mode (\w+)$/) {
            if ($1 eq 'down') {
                $redis->cmd('HSET', 'replicas:ws:eng1', 'addr', $deadaddr);
            } else {
                $redis->cmd('HSET', 'replicas:ws:eng1', 'addr', $eaddr);
                mode($1);
            }
            print $in "ok\n";
            next;
        }
        push @log, $line;
        $seen = eval { decode_json($line) } if $line =~ /^\{/;
    }
    waitpid $pid, 0;
    is($? >> 8, 0, 'the browser script ran') or diag join "\n", @log;
    $seen //= {};
    is($seen->{error}, undef, 'the browser went through every step') or diag explain $seen;
    is($seen->{first_check}, 200, 'the page asks the engine at once: 200');
    is($seen->{healthy_banner}, 0, 'healthy: no banner');
    my %want = (
        http_status_500 => qr/^The workspace's engine is not answering \(http_status\)\. The engine answered HTTP 500\./,
        wrong_content_type => qr/^The workspace's engine is not answering \(wrong_content_type\)\. The engine answered HTTP 200 with text\/html; charset=utf-8, not JSON\./,
        timeout => qr/^The workspace's engine is not answering \(timeout\)\. No answer in 10 s\./,
        http_status_502 => qr/^The workspace's engine is not answering \(http_status\)\. HTTP 502 from the gateway: nothing listens on the engine's port 3737, or the connection failed\./,
        network_error => qr/^The workspace's engine is not answering \(network_error\)\. The gateway could not be reached \(.+\), so the engine could not be asked\./,
    );
    for my $k (sort keys %want) {
        like($seen->{banners}{$k} // '', $want{$k}, "$k: the banner says it") ;
        like($seen->{banners}{$k} // '', qr/Retry$/, "$k: with Retry");
    }
    is($seen->{hooks_trigger}, 1, 'a failed proxied call (the Logs tab\'s hooks) brought the check at once');
    like($seen->{logs_error} // '', qr/\S/, 'and the Logs tab says its own error');
    is($seen->{cleared_by_retry}, 1, 'the engine answers again: Retry clears the banner');
    is($seen->{cleared_by_itself}, 1, 'and without Retry the next check clears it');
    is($seen->{sleeping_checks}, 0, 'a sleeping workspace\'s page never asks its engine');
    is_deeply($seen->{console} // [], [], 'no error in the console');
    ok(-s "$shots/engine-banner-timeout.png", 'a screenshot of the banner');
}
is($redis->cmd('HGET', 'replicas:ws:eng2', 'state'), 'sleeping', 'the sleeping workspace still sleeps');

done_testing();
