# Preview security with a second organisation attacking the first: the
# main site answers only for its own names (421), /auth/preview hands a
# ticket only to a preview host parsed from "to" (an attacker listener on
# loopback sees nothing, header injection refused), a workspace's app
# cannot set platform cookies and a planted one does not lock anyone out,
# and a state-changing request from another site is refused (403) on the
# engine, the desktop and the main site's forms and API.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA ();
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity api login_link);

my $redis = start_redis();
# one worker: "logged once per workspace" is per worker
my $gw = start_gateway(redis => $redis, auth => 'on', aliases => ['gw.example.test'],
                       workers => 1);
my $d = $gw->{domain};
my $gp = $gw->{port};
my $main = "http://$d:$gp";

# organisation 1 (the victim) and 2 (the attacker), a workspace each
my $me = new_identity($redis);
my $eve = new_identity($redis, email => 'eve@example.org');
my $app = free_port();
start_upstream(addr => '127.0.0.2', port => $app, name => 'app-A');
start_upstream(addr => '127.0.0.2', port => 3737, name => 'engine-A');
start_upstream(addr => '127.0.0.2', port => 6080, name => 'desktop-A');
start_upstream(addr => '127.0.0.4', port => $app, name => 'app-E');
put_workspace($redis, 'wsa', state => 'awake', addr => '127.0.0.2', org => $me->{org});
put_workspace($redis, 'wse', state => 'awake', addr => '127.0.0.4', org => $eve->{org},
              public => $app);

my $engine = "3737-wsa.$d";
my $desktop = "6080-wsa.$d";
my $evil_origin = "http://$app-wse.$d:$gp";     # the attacker's own app
my $html = ['Accept', 'text/html,application/xhtml+xml'];

sub enc { my ($s) = @_; $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $s }

# One request as a browser sends it; $jar holds cookies and takes Set-Cookie.
sub get {
    my (%o) = @_;
    my $jar = $o{jar} // {};
    my @h = @{ $o{headers} // [] };
    my $cookie = $o{cookie} // join '; ', map { "$_=$jar->{$_}" } sort keys %$jar;
    push @h, ['Cookie', $cookie] if length $cookie;
    my $host = $o{host} =~ /:\d+$/ ? $o{host} : "$o{host}:$gp";
    my $res = http_request(port => $gp, host => $host, path => $o{path} // '/',
                           method => $o{method} // 'GET', headers => \@h,
                           body => $o{body});
    for (@{ $res->{all}{'set-cookie'} // [] }) {
        my ($k, $v) = /^([^=]+)=([^;]*)/ or next;
        if (/Max-Age=0/) { delete $jar->{$k} } else { $jar->{$k} = $v }
    }
    return $res;
}

sub js { return http_json($_[0]) // {} }

sub split_url { $_[0] =~ m{^http://([^/]+)(/.*)$} ? ($1, $2) : () }

sub follow {
    my ($res, $jar) = @_;
    my ($host, $path) = split_url($res->{headers}{location} // '') or return {};
    return get(host => $host, path => $path, jar => $jar, headers => [$html]);
}

# a browser session and a preview cookie for a host, the normal way
sub browser {
    my ($who, @hosts) = @_;
    my %jar;
    my ($h, $p) = split_url(login_link($redis, $who->{user}, $main));
    get(host => $h, path => $p, jar => \%jar, headers => [$html]);
    my %preview;
    for my $host (@hosts) {
        my %j = %jar;
        follow(follow(follow(get(host => $host, headers => [$html], jar => \%j), \%j), \%j), \%j);
        $preview{$host} = $j{replicas_preview};
    }
    return ($jar{replicas_session}, \%preview);
}

my ($session, $pc) = browser($me, $engine, $desktop, "$app-wsa.$d");
ok($session, 'the victim has a session');
ok($pc->{$engine} && $pc->{$desktop}, 'and preview cookies for the engine and the desktop');
my ($eve_session) = browser($eve);
ok($eve_session, 'the attacker has a session of its own organisation');

# --- the main site answers only for its own names --------------------------------
my $r = get(host => "$app-abc.$d.evil.test");
is($r->{status}, 421, 'a foreign name that embeds a preview host: 421');
is(js($r)->{error}{code}, 'misdirected_host', 'as JSON for programs');
$r = get(host => "evil.test", headers => [$html]);
is($r->{status}, 421, 'a foreign name, browser: 421');
like($r->{headers}{'content-type'}, qr{text/html}, 'as a page');
unlike($r->{body}, qr/main site/, 'never the main site');
$r = get(host => "evil.test", path => '/v1/workspaces',
         headers => [['Authorization', "Bearer $me->{key}"]]);
is($r->{status}, 421, 'a rebinding page cannot reach the API under its name');
$r = get(host => "evil.test", path => '/login');
is($r->{status}, 421, 'nor the login page');
$r = get(host => "127.0.0.1:$gp", path => '/healthz');
is($r->{status}, 200, 'the bare IP answers /healthz');
for my $path ('/', '/v1/workspaces', '/login') {
    is(get(host => "127.0.0.1:$gp", path => $path)->{status}, 421, "the bare IP: $path is 421");
}
like(get(host => $d)->{body}, qr/main site/, 'the domain is the main site');
like(get(host => 'GW.example.test.')->{body}, qr/main site/, 'so is a replicas_alias name');
is(get(host => 'gw.example.test', path => '/v1/workspaces',
       headers => [['Authorization', "Bearer $me->{key}"]])->{status}, 200,
   'and its API answers');

# --- /auth/preview hands tickets only to a parsed preview host -----------------------
my $attacker = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => free_port(),
                                     Listen => 16, ReuseAddr => 1) or die "listener: $!";
my $ap = $attacker->sockport;

# what a browser does with a Location: the host after the last "@" of
# the authority, "\" read as "/" by some parsers, so userinfo tricks land
sub browser_go {
    my ($loc) = @_;
    my ($auth, $path) = $loc =~ m{^[a-z]+://([^/?#]*)(.*)$}i or return;
    $auth =~ s/^.*[\@\\]//;
    my ($host, $port) = $auth =~ /^([^:]*)(?::(\d+))?$/ or return;
    $host = '127.0.0.1' if $host =~ /\.\Q$d\E$/ || $host eq $d;   # resolves to loopback
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port // 80,
                                  Timeout => 2) or return;
    print $s "GET $path HTTP/1.1\r\nHost: $auth\r\nConnection: close\r\n\r\n";
    close $s;
}

my @evil = (
    "http://$engine:x\@127.0.0.1:$ap/",
    "http://$engine:$gp\@127.0.0.1:$ap/",
    "http://$engine\\\@127.0.0.1:$ap/",
    "http://$engine\@127.0.0.1:$ap/",
    "http://$app-wsa.$d:$gp\@127.0.0.1:$ap/",
    "http://$desktop:x\@127.0.0.1:$ap/",
    "http://$engine:$ap/",
    "http://$engine:$gp\\\\127.0.0.1:$ap/",
    "http://127.0.0.1:$ap/",
    "http://$engine.127.0.0.1.nip.io:$ap/",
    "http://$engine:$gp//127.0.0.1:$ap/",
    "https://$engine:$gp/",
    "javascript://$engine:$gp/%0aalert(1)",
    "http://$engine:0$gp/",
    "http://$engine:$gp/\tx",
);
my %jar = (replicas_session => $session);
for my $to (@evil) {
    my $res = get(host => $d, path => '/auth/preview?to=' . enc($to), jar => { %jar },
                  headers => [$html]);
    is($res->{status}, 400, "to=$to: 400");
    ok(!$res->{headers}{location}, "to=$to: no redirect");
    browser_go($res->{headers}{location}) if $res->{headers}{location};
}
my @got;
while (IO::Select->new($attacker)->can_read(0)) {
    my $c = $attacker->accept or last;
    my $line = <$c> // '';
    push @got, $line;
}
is(scalar @got, 0, 'the attacker listener saw no connection and no ticket')
    or diag(join '', @got);

# header injection through the ticket's path
my $crlf = "http://$app-wsa.$d:$gp/x\r\nSet-Cookie: injected=1";
$r = get(host => $d, path => '/auth/preview?to=' . enc($crlf), jar => { %jar }, headers => [$html]);
is($r->{status}, 400, '%0d%0a in "to": 400');
ok(!grep({ /injected/ } @{ $r->{all}{'set-cookie'} // [] }), 'no injected cookie');
# a ticket whose stored path has CR/LF (written before this check) is refused
$redis->cmd('SET', 'replicas:ticket:' . Digest::SHA::sha256_hex('crlf-ticket'),
            "$app-wsa.$d|$me->{user}|s:" . Digest::SHA::sha256_hex($session)
            . "|/x\r\nSet-Cookie: injected=1", 'EX', 60);
$r = get(host => "$app-wsa.$d", path => '/.replicas/auth?replicas_ticket=crlf-ticket',
         headers => [$html]);
is($r->{status}, 403, 'a stored path with CR/LF: refused');
ok(!grep({ /injected/ } @{ $r->{all}{'set-cookie'} // [] }), 'and nothing injected');
unlike($r->{raw}, qr/^Set-Cookie: injected/m, 'no header of the attacker\'s');

# the real thing still works, and its Location is built from parsed parts
$r = get(host => $d, path => '/auth/preview?to=' . enc("http://$engine:$gp/files?path=a"),
         jar => { %jar }, headers => [$html]);
is($r->{status}, 302, 'a preview URL: a ticket');
like($r->{headers}{location}, qr{^http://\Q$engine:$gp\E/\.replicas/auth\?replicas_ticket=[\w-]+$},
     'to the canonical preview host');
my $land = follow($r, {});
is($land->{headers}{location}, "http://$engine:$gp/files?path=a", 'landing on the path asked for');
$r = get(host => $d, path => '/auth/preview?to=' . enc("HTTP://3737-WSA.REPLICAS.LOCALHOST:$gp"),
         jar => { %jar }, headers => [$html]);
like($r->{headers}{location}, qr{^http://\Q$engine:$gp\E/\.replicas/auth\?}, 'case and a missing path: canonical');

# --- platform cookies: never from a workspace, several tried -------------------------
my @plant = ("replicas_preview=planted; Domain=$d; Path=/", "replicas_session=planted; Domain=$d",
             'Replicas_Session=x', ' replicas_next=/evil', 'app=1; Path=/');
my $q = join '&', map { 'c=' . enc($_) } @plant;
$r = get(host => "$app-wsa.$d", path => "/set-cookie?$q", cookie => "replicas_preview=$pc->{\"$app-wsa.$d\"}");
is($r->{status}, 200, 'an app that sets cookies');
is_deeply($r->{all}{'set-cookie'}, ['app=1; Path=/'], 'only its own reach the browser');
$r = get(host => "$app-wse.$d", path => "/set-cookie?$q");
is_deeply($r->{all}{'set-cookie'}, ['app=1; Path=/'], 'a public port too (the attacker\'s own app)');
get(host => "$app-wse.$d", path => "/set-cookie?$q");
my $warned = () = $gw->{nginx}->error_log =~ /workspace wse \(port $app\) tried to set a platform cookie/g;
is($warned, 1, 'logged once per workspace');

# a planted cookie beside the real one: each is tried
$r = get(host => $engine, cookie => "replicas_preview=planted.x.y; replicas_preview=$pc->{$engine}",
         headers => [$html]);
is($r->{status}, 200, 'a planted preview cookie first: the real one still opens the engine');
is(js($r)->{name}, 'engine-A', 'the victim\'s engine');
$r = get(host => $d, path => '/auth/preview?to=' . enc("http://$engine:$gp/"),
         cookie => "replicas_session=planted; replicas_session=$session", headers => [$html]);
like($r->{headers}{location} // '', qr{^http://\Q$engine:$gp\E/\.replicas/auth\?}, 'a planted session cookie first: still a ticket');
$r = get(host => $d, path => '/auth/preview?to=' . enc("http://$engine:$gp/"),
         cookie => "replicas_session=$eve_session; replicas_session=$session", headers => [$html]);
like($r->{headers}{location} // '', qr{^http://\Q$engine:$gp\E/\.replicas/auth\?},
     'the attacker\'s live session first: the victim\'s own is used');
my $t = follow($r, {});
ok($t->{headers}{location} && grep({ /^replicas_preview=/ } @{ $t->{all}{'set-cookie'} // [] }),
   'and the ticket gives the victim\'s cookie');

# --- cross-site writes -------------------------------------------------------------------
my $body = '{"text":"rm -rf /"}';
for my $case ([$engine, 'engine'], [$desktop, 'desktop']) {
    my ($host, $what) = @$case;
    my $c = "replicas_preview=$pc->{$host}";
    $r = get(host => $host, method => 'POST', path => '/messages', cookie => $c, body => $body,
             headers => [['Origin', $evil_origin], ['Content-Type', 'text/plain']]);
    is($r->{status}, 403, "$what: a POST from another workspace's app: 403");
    is(js($r)->{error}{code}, 'origin_forbidden', "$what: origin_forbidden, not proxied");
    $r = get(host => $host, method => 'POST', path => '/messages', cookie => $c, body => $body,
             headers => [['Sec-Fetch-Site', 'same-site']]);
    is($r->{status}, 403, "$what: no Origin but Sec-Fetch-Site same-site: 403");
    $r = get(host => $host, method => 'DELETE', path => '/x', cookie => $c,
             headers => [['Origin', 'null']]);
    is($r->{status}, 403, "$what: Origin null: 403");
    $r = get(host => $host, method => 'POST', path => '/messages', cookie => $c, body => $body,
             headers => [['Origin', "http://$host:$gp"]]);
    is(js($r)->{name}, "$what-A", "$what: from itself: proxied");
    $r = get(host => $host, method => 'POST', path => '/messages', cookie => $c, body => $body,
             headers => [['Origin', $main], ['Sec-Fetch-Site', 'same-site']]);
    is(js($r)->{name}, "$what-A", "$what: from the main site: proxied");
    $r = get(host => $host, method => 'POST', path => '/messages', cookie => $c, body => $body,
             headers => [['Sec-Fetch-Site', 'same-origin']]);
    is(js($r)->{name}, "$what-A", "$what: Sec-Fetch-Site same-origin: proxied");
    $r = get(host => $host, path => '/files', cookie => $c, headers => [['Origin', $evil_origin]]);
    is(js($r)->{name}, "$what-A", "$what: a GET is not a write: proxied");
    $r = get(host => $host, method => 'POST', path => '/messages', body => $body,
             headers => [['Authorization', "Bearer $me->{key}"]]);
    is(js($r)->{name}, "$what-A", "$what: a program with a key, no Origin: proxied");
}
$r = get(host => "$app-wsa.$d", method => 'POST', path => '/form',
         cookie => "replicas_preview=$pc->{\"$app-wsa.$d\"}", body => 'a=1',
         headers => [['Origin', $evil_origin]]);
is(js($r)->{name}, 'app-A', 'the user\'s own app port decides for itself');

# the main site: login and logout CSRF, the API
$r = get(host => $d, method => 'POST', path => '/login', body => "key=$eve->{key}&next=/",
         headers => [$html, ['Origin', 'http://evil.example'],
                     ['Content-Type', 'application/x-www-form-urlencoded']]);
is($r->{status}, 403, 'POST /login from a foreign Origin: 403');
ok(!grep({ /^replicas_session=/ } @{ $r->{all}{'set-cookie'} // [] }), 'and no session');
$r = get(host => $d, method => 'POST', path => '/login', body => "key=$eve->{key}&next=/",
         headers => [$html, ['Sec-Fetch-Site', 'cross-site'],
                     ['Content-Type', 'application/x-www-form-urlencoded']]);
is($r->{status}, 403, 'POST /login with Sec-Fetch-Site cross-site: 403');
$r = get(host => $d, method => 'POST', path => '/login', body => "key=$eve->{key}&next=/",
         headers => [$html, ['Origin', $main], ['Content-Type', 'application/x-www-form-urlencoded']]);
is($r->{status}, 303, 'from the login page itself: logged in');
$r = get(host => $d, method => 'POST', path => '/logout', cookie => "replicas_session=$session",
         headers => [$html, ['Origin', $evil_origin]]);
is($r->{status}, 403, 'POST /logout from a preview page: 403');
$r = get(host => $d, path => '/auth/preview?to=' . enc("http://$engine:$gp/"),
         cookie => "replicas_session=$session", headers => [$html]);
like($r->{headers}{location} // '', qr{/\.replicas/auth\?}, 'and the session lives on');
my ($st) = api($gw, $me->{key}, 'POST', '/v1/workspaces/wsa/sleep', undef,
               headers => [['Origin', $evil_origin]]);
is($st, 403, 'an API write from a foreign Origin: 403');
($st) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => 'https://example.com/r.git' });
is($st, 201, 'a program with a key and no Origin: as before');
($st) = api($gw, $me->{key}, 'GET', '/v1/workspaces', undef, headers => [['Origin', $evil_origin]]);
is($st, 200, 'a read with a foreign Origin is not a write (CORS keeps its answer from the page)');

nginx_log_clean_ok($gw->{nginx});
done_testing();
