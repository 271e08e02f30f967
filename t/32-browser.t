# A real browser: Debian's headless Chromium, driven by playwright-core
# from npm, opens an authenticated preview, is sent to log in, follows the
# login link and lands on the preview it asked for.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir start_redis start_upstream free_port repo_root
                      nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity login_link);

my $root = repo_root();
my $chromium = '/usr/bin/chromium';
my $modules = objs_dir() . "/node/node_modules";
# prerequisites are installed by auto/test (auto/lib.sh): missing = failure
ok(-x $chromium, 'Chromium is installed') or BAIL_OUT('chromium missing: run ./auto/test');
ok(-d "$modules/playwright-core", 'playwright-core is installed')
    or BAIL_OUT('playwright-core missing: run ./auto/test');

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $port = free_port();
start_upstream(addr => '127.0.0.2', port => $port, name => 'browser-app');
my $me = new_identity($redis);
put_workspace($redis, 'webws', state => 'awake', addr => '127.0.0.2', org => $me->{org});

my $main = "http://$gw->{domain}:$gw->{port}";
my $preview = "http://$port-webws.$gw->{domain}:$gw->{port}/some/page?q=1";
my $link = login_link($redis, $me->{user}, $main);

local $ENV{NODE_PATH} = $modules;
local $ENV{CHROMIUM} = $chromium;
local $ENV{PREVIEW_URL} = $preview;
local $ENV{LOGIN_LINK} = $link;
my $out = qx{node $root/t/browser/login-preview.js 2>&1};
is($?, 0, 'the browser script ran') or diag($out);
my $seen = eval { decode_json((split /\n/, $out)[-1]) } // {};

like($seen->{first_stop} // '', qr{^\Q$main\E/login\?next=}, 'without a session the browser lands on the login page');
is($seen->{login_form}, 1, 'which has the login form');
is($seen->{final_url}, $preview, 'after the login link it is back on the preview it asked for');
like($seen->{body} // '', qr/"name":"browser-app"/, 'and sees the workspace\'s page');
like($seen->{body} // '', qr{"uri":"/some/page\?q=1"}, 'at the original path and query');
my %c = map { $_->{name} => $_ } @{ $seen->{cookies} // [] };
is($c{replicas_preview}{domain}, "$port-webws.$gw->{domain}", 'the preview cookie is host-only');
ok($c{replicas_preview}{httpOnly}, 'HttpOnly');
is($c{replicas_session}{domain}, $gw->{domain}, 'the session cookie belongs to the main domain only');
is($seen->{document_cookie}, '', 'the page cannot read either');
is($seen->{reload_status}, 200, 'a second visit goes straight to the preview');
diag('navigations: ' . join(' -> ', @{ $seen->{hops} // [] }));

done_testing();
