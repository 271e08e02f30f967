# The dashboard (ngx_replicas_module/dashboard), served by the gateway on
# the main domain, in Debian's headless Chromium (playwright-core, as
# t/47): the login link lands on the list, which shows the sample
# workspace; a workspace started from the "New workspace" form wakes up
# in its page; a message sent in the Chat tab reaches the real Claude Code
# CLI in the sandbox (the model a scripted stand-in) and its answer comes
# back over the events stream, markdown rendered, the script the answer
# carries not run, its tool call a row.  Around it, by HTTP: the strict
# Content-Security-Policy, the app for every view's URL, the session
# cookie as the API's credential, and a cross-origin write with that
# cookie refused.  Multiplayer: a second user of the organisation (a
# collaborator) in a second browser context sees the first one's message
# live and attributed, each sees the other in "Also here", the second
# one's message reaches the first live, attributed to them, and each
# one's turn is committed as them; the answer's file path is a link to
# the Files tab on that file; a user of another organisation (a third
# context) finds nothing of it.  Screenshots go to $REPLICAS_SHOTS (or the test's
# temporary folder).  Root.

use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir start_redis http_request http_json poll_until free_port
                      repo_root tmpdir);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity api login_link control);
use Replicas::Control qw(start_control fixture_repo);
use Replicas::Workspaces;
use Replicas::ModelServer qw(start_model_server);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my $chromium = '/usr/bin/chromium';
my $modules = objs_dir() . '/node/node_modules';
my $www = objs_dir() . '/dashboard/www';
ok(-x $chromium, 'Chromium is installed') or BAIL_OUT('chromium missing: run ./auto/test');
ok(-d "$modules/playwright-core", 'playwright-core is installed')
    or BAIL_OUT('playwright-core missing: run ./auto/test');
ok(-f "$www/index.html" && -f "$www/app.js", 'the dashboard is built')
    or BAIL_OUT('run auto/lib.sh rp_build_dashboard (./auto/test does)');
ok(-x objs_dir() . '/agents/node_modules/.bin/claude', 'Claude Code is installed from npm')
    or BAIL_OUT('run ./auto/test (auto/lib.sh rp_install_agents)');

# the app's pure logic (filters, event folding): node's own test runner
my $unit = qx{node --test @{[ repo_root() ]}/ngx_replicas_module/dashboard/test/ 2>&1};
is($?, 0, 'the dashboard\'s unit tests pass (node --test)') or diag $unit;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', dashboard => 1);
my $domain = $gw->{domain};
my $main = "http://$domain:$gw->{port}";
my $me = new_identity($redis, email => 'ada@example.com');
my $key = $me->{key};
# bob: a member of ada's organisation; eve: another organisation's admin
my (undef, $bob) = control($redis, 'user', 'create', '--org', $me->{org}, '--email', 'bob@example.com');
chomp $bob;
my $eve = new_identity($redis, email => 'eve@example.com');
my $ws = Replicas::Workspaces->new($gw, $key);

sub get {
    my ($path, @h) = @_;
    return http_request(port => $gw->{port}, host => "$domain:$gw->{port}", path => $path,
                        headers => \@h);
}

# --- the static files --------------------------------------------------------------
my $res = get('/', ['Accept', 'text/html']);
is($res->{status}, 200, 'the main site serves the dashboard');
like($res->{body}, qr{<script type="module" src="/app\.js"></script>}, 'its page loads the bundle');
my $csp = $res->{headers}{'content-security-policy'} // '';
like($csp, qr/default-src 'none'/, "a strict Content-Security-Policy: $csp");
like($csp, qr/script-src 'self'(;|$)/, 'scripts from the gateway only (no inline, no eval)');
like($csp, qr/frame-ancestors 'none'/, 'never framed');
like($csp, qr{frame-src 'self' http://\*\.\Q$domain\E:\* https://\*\.\Q$domain\E:\*;},
     'frames only from preview hosts (and the login\'s hop)');
is($res->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
$res = get('/w/abc123/diff', ['Accept', 'text/html']);
is($res->{status}, 200, 'a view\'s URL is the app too (reload and share keep it)');
like($res->{body}, qr{/app\.js}, 'the same page');
$res = get('/app.js');
is($res->{status}, 200, 'the bundle');
like($res->{headers}{'content-type'} // '', qr{javascript}, 'as JavaScript');
like($res->{headers}{'content-security-policy'} // '', qr/default-src 'none'/, 'with the CSP too');
unlike($res->{body}, qr{https?://(?:cdn|unpkg|fonts)\.}, 'nothing fetched from elsewhere');

# --- the session cookie is the API's credential ----------------------------------------
$res = get('/v1/workspaces');
is($res->{status}, 401, 'no key, no cookie: 401');
my $link = login_link($redis, $me->{user}, $main);
(my $lpath = $link) =~ s{^\Q$main\E}{};
$res = get($lpath);
my ($sid) = join("\n", @{ $res->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
ok($sid, 'a login link gives a session cookie');
like($res->{headers}{location} // '', qr{^(?:\Q$main\E)?/$}, 'and goes to the dashboard');
my $cookie = ['Cookie', "replicas_session=$sid"];
$res = get('/v1/workspaces', $cookie);
is($res->{status}, 200, 'the session cookie lists the workspaces');
my $list = http_json($res) // {};
is($list->{caller}{user}, $me->{user}, 'the list says who is asking');
is($list->{caller}{email}, 'ada@example.com', 'with their email');
is($list->{caller}{org}, $me->{org}, 'and organisation');
$res = get('/v1/workspaces', ['Cookie', 'replicas_session=not-a-session']);
is($res->{status}, 401, 'an unknown session: 401');
like($res->{body}, qr/"code":"unauthorized"/, 'in JSON');

# --- CSRF: a write with the cookie from another site is refused -----------------------
my $sample = 'sample' . int(rand 1e6);
put_workspace($redis, $sample, org => $me->{org}, user => $me->{user}, state => 'sleeping',
              state_at => time - 120, created => time - 3600, name => 'sample workspace',
              repository => 'https://github.com/replicas/sample', agent => 'claude');
$redis->cmd('SADD', "replicas:org-ws:$me->{org}", $sample);
sub post {
    my ($path, $body, @h) = @_;
    return http_request(port => $gw->{port}, host => "$domain:$gw->{port}", method => 'POST',
        path => $path, body => $body, headers => [['Content-Type', 'application/json'], @h]);
}
$res = post("/v1/workspaces/$sample/wake", '{}', $cookie, ['Origin', 'http://evil.example']);
is($res->{status}, 403, 'a cross-origin POST with the session cookie: 403');
like($res->{body}, qr/origin_forbidden/, 'origin_forbidden');
$res = post("/v1/workspaces/$sample/messages", '{"text":"hi"}', $cookie,
            ['Sec-Fetch-Site', 'cross-site']);
is($res->{status}, 403, 'Sec-Fetch-Site cross-site: 403');
$res = post("/v1/workspaces/$sample/messages", '{"text":"hi"}', $cookie,
            ['Origin', "http://8080-$sample.$domain:$gw->{port}"]);
is($res->{status}, 403, 'from a preview host (same site, another origin): 403');
is($redis->cmd('HGET', "replicas:ws:$sample", 'state'), 'sleeping', 'and nothing was done');
$res = post("/v1/workspaces/$sample/chats/default/interrupt", '{}', $cookie,
            ['Origin', 'http://evil.example']);
is($res->{status}, 403, 'Stop from another site: 403');
$res = post("/v1/workspaces/$sample/chats/default/interrupt", '{}', $cookie, ['Origin', $main]);
is($res->{status}, 409, 'Stop on a sleeping workspace: 409, and it is not woken');
$res = post("/v1/workspaces/$sample/git/push?repo=sample", '{}', $cookie, ['Origin', 'http://evil.example']);
is($res->{status}, 403, 'git actions from another site: 403');
$res = post("/v1/workspaces/$sample/git/push?repo=sample", '{}', $cookie, ['Origin', $main]);
is($res->{status}, 409, 'Push on a sleeping workspace: 409, not woken');
like($res->{body}, qr/"code":"workspace_not_awake"/, 'workspace_not_awake');
is($redis->cmd('HGET', "replicas:ws:$sample", 'state'), 'sleeping', 'still sleeping');
$res = post("/v1/workspaces/$sample/previews", '{"port":3000}', $cookie, ['Origin', $main]);
is($res->{status}, 201, 'the dashboard\'s own origin may') or diag $res->{body};

# --- a real workspace, in the browser ------------------------------------------------
my $mport = free_port();
my $answer = "Here is the **bold answer**, with `code`, in `notes.md`.\n\n- one\n- two\n\n"
           . "<script>window.__pwned = 'script'</script>"
           . "<img src=x onerror=\"window.__pwned = 'img'\"> <a href=\"javascript:window.__pwned='a'\">link</a>"
           . "\n\n[click me](javascript:window.__pwned='md')";
my $model = start_model_server(addr => '0.0.0.0', port => $mport, key => 'sk-ant-test-not-real', scripts => [
    { match => qr/show me the dashboard/, steps => [
        { tool => 'Write', input => { file_path => 'notes.md', content => "from the dashboard\n" } },
        { text => $answer } ] },
    { match => qr/take your time/, steps => [ { text => 'Finally done.', delay => 90 } ] },
    { match => qr/then say hi/, steps => [ { text => 'Hi there.' } ] },
    { match => qr/Bob here/, steps => [
        { tool => 'Write', input => { file_path => 'bob.md', content => "from bob\n" } },
        { text => 'Done, Bob: see bob.md.' } ] },
]);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--allow-port', $mport, '--desktop', 'on',
                                 '--repo-root', tmpdir() . '/repos']);
(my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};
my ($st) = api($gw, $key, 'PUT', '/v1/environments/global', { variables => {
    ANTHROPIC_API_KEY => 'sk-ant-test-not-real', ANTHROPIC_BASE_URL => "http://$host:$mport" } });
is($st, 200, 'the model key in the Global environment');
my $repo = fixture_repo('dashapp', { 'README.md' => "# an app\n" }, $me->{org});

my $shots = $ENV{REPLICAS_SHOTS} // tmpdir() . '/shots';
mkdir $shots;
local $ENV{NODE_PATH} = $modules;
local $ENV{CHROMIUM} = $chromium;
local $ENV{LOGIN_LINK} = login_link($redis, $me->{user}, $main);
local $ENV{LOGIN_LINK2} = login_link($redis, $me->{user}, $main);
local $ENV{MAIN} = $main;
local $ENV{SAMPLE} = $sample;
local $ENV{REPO} = $repo;
local $ENV{REPO_MISSING} = "$repo-missing";
local $ENV{MESSAGE} = 'Please show me the dashboard';
local $ENV{SHOTS} = $shots;
local $ENV{SLOW_MESSAGE} = 'Please take your time';
local $ENV{NEXT_MESSAGE} = 'And then say hi';
local $ENV{WAIT_MS} = 120000;
local $ENV{BOB_LINK} = login_link($redis, $bob, $main);
local $ENV{BOB_USER} = $bob;
local $ENV{BOB_MESSAGE} = 'Bob here: write my file';
local $ENV{EVE_LINK} = login_link($redis, $eve->{user}, $main);
my $out = qx{node @{[ repo_root() ]}/t/browser/dashboard.js 2>&1};
is($?, 0, 'the browser script ran') or diag($out);
my $seen = eval { decode_json((split /\n/, $out)[-1]) } // {};
is($seen->{error}, undef, 'the browser went through every step') or diag(explain($seen), $ctl->log);
is($seen->{after_login}, "$main/", 'the login link lands on the dashboard');
ok($seen->{sample_listed}, 'the list shows the sample workspace');
like($seen->{sample_text} // '', qr/sample workspace.*sleeping.*github\.com\/replicas\/sample/,
     'with its name, state and repository');
is_deeply($seen->{env_options}, ['Any environment', 'Global only (1)'],
          'the environment filter counts the workspaces per environment');
like($seen->{idle_url} // '', qr{/\?active=idle$}, 'the last-activity filter is in the URL');
is($seen->{idle_empty}, 'No workspace matches.', 'idle for a week: none (the sample is new)');
ok($seen->{hour_listed}, 'active in the last hour: the sample');
like($seen->{who} // '', qr/ada\@example\.com \Q$me->{org}\E/, 'the header says who is signed in, and the org');
like($seen->{ws_url} // '', qr{^\Q$main\E/w/[a-z0-9]+$}, 'the form opens the new workspace\'s page');
my $id = $seen->{id} // '';
my $j = $seen->{api_ws} // {};
is($j->{repository}, $repo, 'a workspace of that repository');
is($j->{name}, 'dashboard test', 'named as typed');
is($j->{owner}, $me->{user}, 'owned by the person signed in');
like($seen->{first_state} // '', qr/^(booting|provisioning|awake)$/, "shown $seen->{first_state} first");
# warm while typing: the form's repository prewarmed before the submit
like($seen->{prewarm_failed_text} // '', qr/^Not prepared ahead: .+ \(it still starts\)$/,
     "a repository that cannot be prepared, said quietly: $seen->{prewarm_failed_text}");
ok($seen->{prewarm_failed_submit}, '  the submit still open');
is($seen->{prewarm_first}, 'warming', 'the form says it prepares the repository');
is($seen->{prewarm_first_text}, 'Preparing…', '  "Preparing…"');
is($seen->{prewarm_ready_text}, 'Ready: starts instantly', 'then "Ready: starts instantly"');
{
    my $log = $ctl->log;
    my ($warm) = $log =~ /event=pool\.fill image=\S+ sandbox=(\S+) .*prewarm=1/;
    ok($warm, 'a prewarm job made a warm sandbox for it (--pool-size 0)') or diag $log;
    $warm //= 'none';
    my $filled = index($log, "sandbox=$warm ");
    my $created = $log =~ /event=job\.start job=\S+ type=create ws=\Q$id\E / ? $-[0] : -1;
    ok($filled >= 0 && $created > $filled, 'pooled before the submit\'s create started');
    like($log, qr/event=pool\.claim ws=\Q$id\E image=\S+ sandbox=\Q$warm\E /,
         'the submit\'s create claimed it');
    my $built = $log =~ /event=image\.built / ? $-[0] : -1;
    ok($built >= 0 && $built < $created, 'its image built by the prewarm, before the create');
}
ok($seen->{awake}, 'then awake, live');
is($seen->{message_text}, 'Please show me the dashboard', 'the message is in the chat');
is($seen->{author}, 'ada', 'attributed to ada (her name as the user record gives it)');
is($seen->{strong}, 'bold answer', "the agent's markdown is rendered")
    or diag($seen->{answer_html});
like($seen->{answer_html} // '', qr{<li>one</li>}, 'lists too');
is_deeply($seen->{tools}, ['Write'], 'its tool call is a row');
is($seen->{pwned}, undef, 'the script in the answer did not run');
is($seen->{scripts_in_chat}, 0, 'no script element in the chat');
is($seen->{handlers_in_chat}, 0, 'no event handler attribute');
is($seen->{js_links}, 0, 'no javascript: link');
like($seen->{answer_html} // '', qr/&lt;script&gt;/, 'the HTML the agent wrote is shown as text');
is_deeply($seen->{csp}, [], 'the page broke no rule of its CSP') or diag explain $seen->{csp};
is_deeply($seen->{console_before_sleep}, [], 'no error in the console')
    or diag explain $seen->{console};
# --- multiplayer
is($seen->{collaborators_status}, 200, 'ada makes bob a collaborator');
is($seen->{bob_list_viewers}, '1 viewing', "bob's list: someone is viewing the workspace");
is($seen->{bob_also_here}, 'Also here: ada@example.com', "bob's page: ada is also here");
is($seen->{ada_also_here}, 'Also here: bob@example.com', "ada's page: bob is also here, live");
is($seen->{bob_saw}{author}, 'ada', "bob sees ada's message live, attributed to her");
is($seen->{bob_saw}{answer}, 'bold answer', 'and the answer');
like($seen->{file_link} // '', qr{^/w/\Q$id\E/files\?repo=dashapp&file=notes\.md$},
     'the file the answer names is a link to the Files tab');
like($seen->{link_opened}{url} // '', qr{/w/\Q$id\E/files\?repo=dashapp&file=notes\.md$}, 'which opens it');
is($seen->{link_opened}{tab}, 'Files', 'in the Files tab');
is($seen->{link_opened}{text}, "from the dashboard\n", 'on that file');
is($seen->{ada_saw}{author}, 'bob', "bob's message reaches ada live, attributed to him");
is($seen->{ada_saw}{answer}, 'Done, Bob: see bob.md.', 'with its answer');
is($seen->{ada_saw}{link}, 'bob.md', 'whose file is a link too');
is_deeply($seen->{console_bob}, [], "no error in bob's console");
ok(!$seen->{eve_listed}, "eve (another organisation) never had it in her list");
unlike($seen->{eve_list_text} // '', qr/dashboard test|\Q$id\E/, 'nor anything of it');
is_deeply($seen->{eve_api}, { get => 404, events => 404, presence => 404, history => 404, messages => 404 },
          'for her the workspace, its stream, presence, history and messages are not found');
like($seen->{eve_page} // '', qr/^Not found .*\Q$id\E/, 'its page says "Not found"');
ok($seen->{bob_left}, 'bob leaves: ada is alone again');
ok($seen->{queued_shown}, 'a message sent during a turn shows queued, with its position');
ok($seen->{interrupted}, 'Stop interrupts the running turn');
is($seen->{next_answer}, 'Hi there.', 'and the queued message is answered next');
ok($seen->{stop_gone}, 'no Stop once nothing runs');
like($seen->{diff_stats} // '', qr/^2 files changed, \+2 −0$/, "the Diff tab counts the changes ($seen->{diff_stats})");
is_deeply($seen->{diff_files}, ['bob.md', 'notes.md'], 'the files the agent wrote');
is_deeply($seen->{diff_added}, ['from bob', 'from the dashboard'], 'their added lines');
ok($seen->{desktop_connected}, 'the Desktop tab: noVNC connected in the frame, no second login')
    or diag explain $seen;
diag("the Desktop tab's Reload pressed $seen->{desktop_reloads} times");
my ($lit, $card) = map { $seen->{desktop_lit}{$_} // 0 } qw(lit card);
ok($lit =~ /^[\d.]+$/ && $lit > 0.5, "the remote screen is drawn, not black ($lit of its pixels lit)");
ok($card > 0.02, "and the workspace's card is on it, readable at the tab's scale ($card of its pixels)");
like($seen->{desktop_frame_url} // '', qr{^http://6080-\Q$id\E\.\Q$domain\E:\d+/vnc\.html\?autoconnect=1},
     'from the 6080 preview');
like($seen->{previews_text} // '', qr{http://3000-\Q$id\E\.\Q$domain\E:\d+/ authenticated},
     'the Previews tab lists a preview with its URL, live');
ok((grep { $_ eq 'notes.md' } @{ $seen->{tree} // [] }) && (grep { $_ eq 'README.md' } @{ $seen->{tree} // [] }),
   'the Files tab lists the repository') or diag explain $seen->{tree};
is($seen->{file_text}, "from the dashboard\n", 'and opens a file');
like($seen->{file_url} // '', qr{/w/\Q$id\E/files\?repo=dashapp&file=notes\.md$}, 'whose URL keeps it');
like($seen->{share_url} // '', qr{^http://3000-\Q$id\E\.\Q$domain\E:\d+/\?replicas_share=}, 'a share link made in the Previews tab');
like($seen->{share_open}{url} // '', qr{^http://3000-\Q$id\E\.}, 'which a fresh browser opens without a login')
    or diag explain $seen->{share_open};
unlike($seen->{share_open}{url} // '', qr{/login}, 'not sent to log in');
ok($seen->{made_public}, 'Make public: the preview is public');
like($seen->{share_after_revoke}{url} // '', qr{/login}, 'revoked (and private again): a fresh browser is sent to log in')
    or diag explain $seen->{share_after_revoke};
like($seen->{git_state} // '', qr/^branch replicas\/\S+ · 2 commits ahead of its branch point/, "the Git tab: $seen->{git_state}");
like($seen->{git_said} // '', qr/\S/, "Push answers in the page: $seen->{git_said}");
like($seen->{logs_start} // '', qr/^Start hook: \w+/, "the Logs tab: $seen->{logs_start}");
is($seen->{reload_kept}, "$main/w/$id/previews", 'a reload keeps the view');
ok(!$seen->{phone_overflow}, 'on a phone-sized screen nothing is wider than the screen');
ok($seen->{slept}, 'Sleep: the page shows it sleeping, live');
like($seen->{sleeping_info} // '', qr/sleeping/, 'and says what that means for the chat');
is($seen->{history_asleep}, 'Done, Bob: see bob.md.', 'a page opened while it sleeps shows its chat (saved at the sleep)');
is_deeply($seen->{commits}, [
    { author => { name => 'ada', email => 'ada@example.com' }, files => ['notes.md'] },
    { author => { name => 'bob', email => 'bob@example.com' }, files => ['bob.md'] } ],
    "each one's prompt is committed as them (name and email from their user record)") or diag explain $seen->{commits};
like($seen->{history_asleep_state} // '', qr/^sleeping/, 'shown sleeping');
like($seen->{branch_asleep} // '', qr{^replicas/}, "the list shows its branch while it sleeps ($seen->{branch_asleep})");
is($seen->{state_after_history}, 'sleeping', 'and reading it did not wake the workspace');
ok($seen->{woke}, 'Wake: awake again');
ok($seen->{history_after_wake}, 'with the chat\'s history');
ok($seen->{deleted_gone}, 'Delete: back on the list, without it');
is((api($gw, $key, 'GET', "/v1/workspaces/$id"))[0], 404, 'gone for the API too');
ok($seen->{logged_out}, 'Sign out: logged out');
is($seen->{login_stop}, "$main/login?next=%2Fw%2F$sample",
   'then a view without a session goes to the login page, naming the view');
is($seen->{back_to}, "$main/w/$sample", 'and the next login comes back to it');
is($seen->{back_title}, 'sample workspace', 'the sample workspace\'s page');

# --- Redis unreachable: a banner with Retry, then the list again ---------------------
{
    local $ENV{PHASE} = 'down';
    local $ENV{SID} = $sid;
    local $ENV{RESUME_FILE} = tmpdir() . '/redis-resumed';
    $redis->pause;
    open my $b, '-|', "node @{[ repo_root() ]}/t/browser/dashboard.js 2>&1" or die "node: $!";
    my $first = <$b> // '';
    like($first, qr/"banner":"Replicas cannot reach its database right now\./,
         'Redis stopped: the page says so in a banner') or diag $first;
    $redis->resume;
    open my $f, '>', $ENV{RESUME_FILE} or die; close $f;
    my $rest = do { local $/; <$b> } // '';
    close $b;
    my $down = eval { decode_json((split /\n/, $rest)[-1]) } // {};
    ok($down->{banner_gone}, 'Retry once it is back: the list, no banner') or diag $rest;
    like($down->{not_found} // '', qr/Not found.*no workspace nosuchworkspace1 in your organisation/s,
         'a workspace that is not there: "Not found" in the page');
}

ok(-s "$shots/$_.png", "screenshot $_") for qw(list list-sleeping new new-preparing new-prewarm-failed chat multi-list multi-ada multi-bob multiplayer multi-eve chat-queued chat-phone diff desktop files previews previews-shared git logs sleeping login redis-down);
diag("screenshots in $shots");

done_testing();
