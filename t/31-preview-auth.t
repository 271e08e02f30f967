# Who may open a preview: the browser flow (login link, session, one-time
# ticket, host-only signed cookie), API keys for programs, WebSocket
# Origin checks, share links, logout and revocation taking effect at once,
# what never reaches the workspace, and signing-key rotation.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex hmac_sha256);
use MIME::Base64 qw(encode_base64url decode_base64url);
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port poll_until ws_connect nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace signing_keys_file
                         write_signing_keys);
use Replicas::Identity qw(control new_identity api login_link);

my $redis = start_redis();
my $keys = signing_keys_file('k1');
my $gw = start_gateway(redis => $redis, auth => 'on', keys => $keys);
my $d = $gw->{domain};
my $gp = $gw->{port};
my $main = "http://$d:$gp";

my $port = free_port();
my $upA = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $upB = start_upstream(addr => '127.0.0.3', port => $port, name => 'B');
my $engA = start_upstream(addr => '127.0.0.2', port => 3737, name => 'engine-A');
my $deskA = start_upstream(addr => '127.0.0.2', port => 6080, name => 'desktop-A');
my $port2 = free_port();
my $upA2 = start_upstream(addr => '127.0.0.2', port => $port2, name => 'A2');

my $me = new_identity($redis);
my $eve = new_identity($redis, email => 'eve@example.org');
put_workspace($redis, 'wsa', state => 'awake', addr => '127.0.0.2', org => $me->{org});
put_workspace($redis, 'wsb', state => 'awake', addr => '127.0.0.3', org => $me->{org});

my $hostA = "$port-wsa.$d";
my $html = ['Accept', 'text/html,application/xhtml+xml'];

# One request; $jar is a hash of cookies sent and updated from Set-Cookie.
sub get {
    my (%o) = @_;
    my $jar = $o{jar} // {};
    my @h = @{ $o{headers} // [] };
    my $cookie = join '; ', map { "$_=$jar->{$_}" } sort keys %$jar;
    push @h, ['Cookie', $cookie] if length $cookie;
    my $host = $o{host} =~ /:\d+$/ ? $o{host} : "$o{host}:$gp";   # as browsers send it
    my $res = http_request(port => $gp, host => $host, path => $o{path} // '/',
                           method => $o{method} // 'GET', headers => \@h);
    for (@{ $res->{all}{'set-cookie'} // [] }) {
        my ($k, $v) = /^([^=]+)=([^;]*)/ or next;
        if (/Max-Age=0/) { delete $jar->{$k} } else { $jar->{$k} = $v }
    }
    return $res;
}

# Splits an absolute URL of ours into host and path.
sub split_url {
    my ($url) = @_;
    $url =~ m{^http://([^/]+)(/.*)$} or return;
    return ($1, $2);
}

sub follow {
    my ($res, $jar) = @_;
    my ($host, $path) = split_url($res->{headers}{location} // '') or return;
    return get(host => $host, path => $path, jar => $jar, headers => [$html]);
}

sub login {
    my ($who, $jar) = @_;
    my $link = login_link($redis, $who->{user}, $main);
    my ($host, $path) = split_url($link);
    my $res = get(host => $host, path => $path, jar => $jar, headers => [$html]);
    return $res;
}

# --- no credential -----------------------------------------------------------
my $r = get(host => $hostA);
is($r->{status}, 401, 'a program without a credential: 401');
is(http_json($r)->{error}{code}, 'unauthorized', 'as JSON');
is(http_json(http_request(addr => '127.0.0.2', port => $port, host => 'x'))->{name}, 'A',
   'the upstream itself answers: the 401 was the gateway\'s');
$r = get(host => $hostA, method => 'OPTIONS', headers => [$html, ['Origin', "http://$hostA"]]);
is($r->{status}, 401, 'a CORS preflight is never redirected');
$r = get(host => $hostA, path => '/app?x=1', headers => [$html]);
is($r->{status}, 302, 'a browser is sent to log in');
like($r->{headers}{location}, qr{^\Q$main\E/auth/preview\?to=http%3A%2F%2F\Q$port\E-wsa\.},
     'through the main domain, carrying where it was going');

# --- the browser flow, not logged in yet ------------------------------------------
my %jar;
my $r2 = follow($r, \%jar);
is($r2->{status}, 302, '/auth/preview without a session');
like($r2->{headers}{location}, qr{^\Q$main\E/login\?next=%2Fauth%2Fpreview}, 'goes to the login page');
my $page = follow($r2, \%jar);
is($page->{status}, 200, 'the login page');
like($page->{body}, qr/<form method="post" action="\/login">/, 'with a form');
ok($jar{replicas_next}, 'remembering where to go');

my $in = login($me, \%jar);
is($in->{status}, 303, 'the login link logs in');
ok($jar{replicas_session}, 'a session cookie');
my ($sc) = grep { /^replicas_session=/ } @{ $in->{all}{'set-cookie'} };
like($sc, qr/HttpOnly/, 'HttpOnly');
like($sc, qr/SameSite=Lax/, 'SameSite=Lax');
unlike($sc, qr/Domain=/i, 'host-only: preview hosts never get it');
unlike($sc, qr/Secure/, 'not Secure over plain http');
like($in->{headers}{location}, qr{^\Q$main\E/auth/preview\?to=}, 'and back where it was going');
ok(!$jar{replicas_next}, 'which is then forgotten');
my $again = login_link($redis, $me->{user}, $main);
my $used = get(host => (split_url($again))[0], path => (split_url($again))[1], headers => [$html]);
is($used->{status}, 303, 'a second link works once');
my ($lh, $lp) = split_url($again);
is(get(host => $lh, path => $lp, headers => [$html])->{status}, 401, 'and not twice');

my $t = follow($in, \%jar);
is($t->{status}, 302, 'logged in: a ticket');
like($t->{headers}{location}, qr{^http://\Q$hostA:$gp\E/\.replicas/auth\?replicas_ticket=}, 'back to the preview host');
my $ticket_url = $t->{headers}{location};
my $c = follow($t, \%jar);
is($c->{status}, 302, 'the ticket is exchanged');
is($c->{headers}{location}, "http://$hostA:$gp/app?x=1", 'for the original URL');
my ($pc) = grep { /^replicas_preview=/ } @{ $c->{all}{'set-cookie'} };
ok($pc, 'and a preview cookie');
like($pc, qr/HttpOnly/, 'HttpOnly');
unlike($pc, qr/Domain=/i, 'host-only');
my $ok = follow($c, \%jar);
is($ok->{status}, 200, 'the preview opens');
is(http_json($ok)->{name}, 'A', 'from the workspace');
is(http_json($ok)->{uri}, '/app?x=1', 'at the original URL');

# tickets are one-time and short
my $re = follow({ headers => { location => $ticket_url } }, {});
is($re->{status}, 403, 'a used ticket: 403');
$redis->cmd('SET', 'replicas:ticket:' . ('0' x 64), "$hostA|$me->{user}|s:x|/", 'EX', 60);
$re = get(host => $hostA, path => '/.replicas/auth?replicas_ticket=unknown', headers => [$html]);
is($re->{status}, 403, 'an unknown or expired ticket: 403');
my $ttl_ticket = follow(follow(get(host => $hostA, headers => [$html]), { %jar }), {});
is($ttl_ticket->{status}, 302, 'a fresh ticket works');
# an expired one: Redis let it go (60 s); made to happen now
my $t2 = follow(get(host => $hostA, headers => [$html]), { %jar });
my ($tk) = $t2->{headers}{location} =~ /replicas_ticket=([^&]+)/;
my $tkey = 'replicas:ticket:' . sha256_hex($tk);
ok($redis->cmd('PEXPIRE', $tkey, 1), 'a ticket expires in Redis');
# gone (EXISTS makes Redis drop an expired key) before its one use, so the
# 403 below is for "expired", never for "used"
ok(poll_until(2, sub { !$redis->cmd('EXISTS', $tkey) }), 'the expired ticket is gone from Redis');
is(follow($t2, {})->{status}, 403, 'an expired ticket: 403');

# --- what the cookie is bound to ----------------------------------------------------
my $cookie = $jar{replicas_preview};
sub with_cookie {
    my ($host, $value, @extra) = @_;
    return get(host => $host, jar => { replicas_preview => $value }, @extra);
}
is(with_cookie($hostA, $cookie)->{status}, 200, 'the cookie opens A');
(my $tampered = $cookie) =~ s/\.(.)/'.' . ($1 eq 'A' ? 'B' : 'A')/e;
is(with_cookie($hostA, $tampered)->{status}, 401, 'a tampered cookie: 401');
my ($kid, $payload, $mac) = split /\./, $cookie;
is(with_cookie($hostA, "$kid.$payload.")->{status}, 401, 'a cookie without its MAC: 401')
    or diag("cookie $cookie");
is(with_cookie("$port-wsb.$d", $cookie)->{status}, 401, 'A\'s cookie replayed on B: 401');
is(with_cookie("$port2-wsa.$d", $cookie)->{status}, 401, 'A\'s cookie on another port: 401');
is(with_cookie("3737-wsa.$d", $cookie)->{status}, 401, 'A\'s cookie on the engine: 401');
# a cookie correctly signed but expired (made here with the test key)
{
    my @f = split /\|/, decode_base64url($payload);
    $f[4] = time - 1;
    my $p = encode_base64url(join '|', @f);
    my $m = encode_base64url(hmac_sha256("k1.$p", substr('k1' x 32, 0, 32)));
    is(with_cookie($hostA, "k1.$p.$m")->{status}, 401, 'an expired cookie: 401');
    $f[4] = time + 3600;
    $p = encode_base64url(join '|', @f);
    $m = encode_base64url(hmac_sha256("k1.$p", substr('k1' x 32, 0, 32)));
    is(with_cookie($hostA, "k1.$p.$m")->{status}, 200, 'the same, unexpired, opens it (the test signs right)');
}

# another organisation
my %ejar;
login($eve, \%ejar);
my $e = follow(get(host => $hostA, headers => [$html]), \%ejar);
is($e->{status}, 403, 'a user of another organisation gets no ticket');
like($e->{body}, qr/organisation does not own/, 'and is told why');
is(get(host => $hostA, headers => [['Authorization', "Bearer $eve->{key}"]])->{status}, 403,
   'nor does their API key open it');

# --- programs: keys --------------------------------------------------------------------
my $bear = ['Authorization', "Bearer $me->{key}"];
$r = get(host => $hostA, path => '/k', headers => [$bear]);
is($r->{status}, 200, 'Authorization: Bearer opens a preview');
$r = get(host => $hostA, headers => [['X-Replicas-Preview-Token', $me->{key}]]);
is($r->{status}, 200, 'X-Replicas-Preview-Token too');
$r = get(host => $hostA, headers => [['Authorization', 'Bearer rk_wrong']]);
is($r->{status}, 401, 'a wrong key: 401, never a redirect');
$r = get(host => $hostA, headers => [['Authorization', 'Bearer rk_wrong'], $html]);
is($r->{status}, 401, 'even for a browser');

# nothing of ours reaches the workspace
$r = get(host => $hostA, path => '/p?a=1&replicas_token=' . $me->{key} . '&b=2',
         headers => [['Cookie', "app=1; replicas_session=s; theme=dark; replicas_preview=$cookie"],
                     ['X-Replicas-Preview-Token', $me->{key}]]);
my $seen = http_json($r);
is($r->{status}, 200, 'token in the query opens it');
is($seen->{uri}, '/p?a=1&b=2', 'and is removed before the upstream sees it');
is($seen->{headers}{cookie}, 'app=1; theme=dark', 'the app keeps its cookies, ours are gone');
ok(!exists $seen->{headers}{'x-replicas-preview-token'}, 'no preview token header');
# cookies over several Cookie lines (one list since nginx 1.23, an array
# before: ngx_http_replicas_cookie_header reads both)
$r = get(host => $hostA, path => '/c2',
         headers => [['Cookie', 'app=1; replicas_session=s'], ['Cookie', 'replicas_preview=x'],
                     ['Cookie', "theme=dark; replicas_preview=$cookie"]]);
$seen = http_json($r);
is($r->{status}, 200, 'a preview cookie on a third Cookie line opens it');
is($seen->{headers}{cookie}, 'app=1; theme=dark', 'the app keeps its cookies of every line, ours are gone');
$r = get(host => $hostA, headers => [$bear, ['Cookie', 'replicas_preview=x']]);
$seen = http_json($r);
ok(!exists $seen->{headers}{authorization}, 'no Authorization');
ok(!exists $seen->{headers}{cookie}, 'no Cookie header when only ours were sent');

# scoped key: its own workspace only
my (undef, $scoped) = control($redis, 'key', 'create', '--user', $me->{user}, '--workspace', 'wsa');
chomp $scoped;
is(get(host => "3737-wsa.$d", headers => [['Authorization', "Bearer $scoped"]])->{status}, 200,
   'a scoped key opens its own engine');
is(get(host => "$port-wsb.$d", headers => [['Authorization', "Bearer $scoped"]])->{status}, 403,
   'and not another workspace');

# revocation: at once, though the key was cached
my (undef, $k2) = control($redis, 'key', 'create', '--user', $me->{user});
chomp $k2;
is(get(host => $hostA, headers => [['Authorization', "Bearer $k2"]])->{status}, 200, 'a new key opens it');
control($redis, 'key', 'revoke', substr($k2, 3, 8), '--org', $me->{org});
ok(poll_until(2, sub { get(host => $hostA, headers => [['Authorization', "Bearer $k2"]])->{status} == 401 }),
   'a revoked key stops at once');

# --- WebSockets -------------------------------------------------------------------------
sub ws {
    my ($host, $path, @h) = @_;
    return ws_connect(port => $gp, host => "$host:$gp", path => $path // '/', headers => \@h);
}
my $w = ws($hostA, '/', ['Cookie', "replicas_preview=$cookie"], ['Origin', "http://$hostA:$gp"]);
is($w->status, 101, 'a WebSocket from the preview itself');
$w = ws($hostA, '/', ['Cookie', "replicas_preview=$cookie"], ['Origin', $main]);
is($w->status, 101, 'from the main domain');
$w = ws($hostA, '/', ['Cookie', "replicas_preview=$cookie"], ['Origin', 'http://evil.example']);
is($w->status, 403, 'from another origin: 403');
$w = ws($hostA, '/', ['Cookie', "replicas_preview=$cookie"], ['Origin', "http://$port-wsb.$d:$gp"]);
is($w->status, 403, 'from another preview: 403');
$w = ws("6080-wsa.$d", '/websockify?replicas_token=' . $me->{key} . '&x=1', ['Origin', $main]);
is($w->status, 101, 'noVNC with ?replicas_token=');
$w->send_text('request?');
my $hs = decode_json($w->recv_text(5) // '{}');
is($hs->{':uri'}, '/websockify?x=1', 'the token is removed before the desktop sees it');
$w = ws("6080-wsa.$d", '/websockify');
is($w->status, 401, 'no credential on the desktop: 401');

# --- public previews ------------------------------------------------------------------
my ($st) = api($gw, $me->{key}, 'POST', '/v1/workspaces/wsa/previews', { port => $port, visibility => 'public' });
is($st, 201, 'made public through the API');
ok(poll_until(2, sub { get(host => $hostA)->{status} == 200 }), 'a public preview is open to all');
is(get(host => "$port2-wsa.$d")->{status}, 401, 'its other ports are not');
# even a record that says otherwise cannot open these two: once port2,
# made public in the same write, answers, the new record is in force
$redis->cmd('HSET', 'replicas:ws:wsa', 'public', "$port,$port2,3737,6080");
$redis->cmd('PUBLISH', 'replicas:ws-changed', 'wsa');
ok(poll_until(5, sub { get(host => "$port2-wsa.$d")->{status} == 200 }),
   'the record making port2, 3737 and 6080 public is in force');
is(get(host => "3737-wsa.$d")->{status}, 401, 'the engine is never public');
is(get(host => "6080-wsa.$d")->{status}, 401, 'nor the desktop');
$redis->cmd('HSET', 'replicas:ws:wsa', 'public', '');
$redis->cmd('PUBLISH', 'replicas:ws-changed', 'wsa');
ok(poll_until(2, sub { get(host => $hostA)->{status} == 401 }), 'and closed again');

# --- share links -------------------------------------------------------------------------
# a workspace made through the API, so it can be shared
(undef, my $ws) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => 'r' });
my $sid = $ws->{id};
put_workspace($redis, $sid, state => 'awake', addr => '127.0.0.2');
(undef, my $share) = api($gw, $me->{key}, 'POST', "/v1/workspaces/$sid/previews/$port/shares", undef);
my ($sh, $sp) = split_url($share->{url});
$r = get(host => $sh, path => $sp);
is($r->{status}, 200, 'a share link opens without a login');
unlike(http_json($r)->{uri}, qr/replicas_share/, 'its token never reaches the workspace');
my %sjar;
$r = get(host => $sh, path => $sp, jar => \%sjar, headers => [$html]);
is($r->{status}, 302, 'a browser swaps the link for a cookie');
is($r->{headers}{location}, "http://$sh/", 'and a clean URL');
is(get(host => $sh, jar => \%sjar)->{status}, 200, 'which opens it');
is(get(host => "$port2-$sid.$d", path => $sp)->{status}, 401, 'the link is for one port only');
api($gw, $me->{key}, 'DELETE', "/v1/workspaces/$sid/previews/$port/shares/$share->{id}");
ok(poll_until(2, sub { get(host => $sh, jar => { %sjar })->{status} == 401 }),
   'revoked: its cookie stops at once');
is(get(host => $sh, path => $sp)->{status}, 401, 'and so does the link');

# --- logout ends every preview cookie of the session --------------------------------------
is(with_cookie($hostA, $cookie)->{status}, 200, 'before logout the cookie works');
$r = get(host => "$d:$gp", path => '/logout', method => 'POST', jar => \%jar, headers => [$html]);
is($r->{status}, 200, 'logout');
ok(!$jar{replicas_session}, 'the session cookie is cleared');
ok(poll_until(2, sub { with_cookie($hostA, $cookie)->{status} == 401 }), 'the preview cookie stops at once');

# --- key rotation ------------------------------------------------------------------------------
my %rjar;
login($me, \%rjar);
follow(follow(follow(get(host => $hostA, headers => [$html]), \%rjar), \%rjar), \%rjar);
my $old = $rjar{replicas_preview};
like($old, qr/^k1\./, 'signed with k1');
write_signing_keys($keys, 'k2', 'k1');
$gw->{nginx}->reload;
ok(poll_until(5, sub { with_cookie($hostA, $old)->{status} == 200 }), 'after rotation the old cookie still works');
delete $rjar{replicas_preview};
follow(follow(follow(get(host => $hostA, headers => [$html]), \%rjar), \%rjar), \%rjar);
like($rjar{replicas_preview} // '', qr/^k2\./, 'new cookies are signed with k2');
write_signing_keys($keys, 'k2');
$gw->{nginx}->reload;
ok(poll_until(5, sub { with_cookie($hostA, $old)->{status} == 401 }), 'once k1 is dropped, its cookies end');
is(with_cookie($hostA, $rjar{replicas_preview})->{status}, 200, 'k2 cookies go on');

# no secret in the logs: keys, tickets, login links, share tokens
my $logs = join '', map { local (@ARGV, $/) = $_; <> } glob($gw->{nginx}->dir . '/logs/*');
unlike($logs, qr/\Q$me->{key}\E/, 'no API key in the logs (sent as ?replicas_token= too)');
unlike($logs, qr/replicas_ticket=|token=|replicas_share=/, 'no tickets, login tokens or share links');
unlike($logs, qr/\Q$cookie\E/, 'no cookies');
like($logs, qr/"GET \Q$hostA\E\/app" 200/, 'requests are logged, without their query');

done_testing();
