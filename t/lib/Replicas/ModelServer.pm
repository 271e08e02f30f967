package Replicas::ModelServer;

# A local stand-in for Anthropic's Messages API, so the real Claude Code
# CLI (ANTHROPIC_BASE_URL pointed here) runs turns the test scripts:
# POST /v1/messages with "stream": true answers in the API's own
# server-sent events (message_start, content_block_start/delta/stop,
# message_delta, message_stop), text and tool_use blocks alike.
#
# A script is a list of steps per prompt: the step is chosen by how many
# assistant turns the conversation already holds since the prompt, so the
# CLI's tool results lead it on:
#   start_model_server(scripts => [
#       { match => qr/write a file/, steps => [
#           { tool => 'Write', input => { file_path => 'x', content => 'y' } },
#           { tool => 'Bash',  input => { command => 'ls' } },
#           { text => 'done' } ] } ])
# Requests without tools (the CLI's side requests: titles, summaries) get
# a short text.  Every request is kept (->requests) for assertions.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use Time::HiRes qw(sleep);
use parent -norequire, 'Replicas::ScriptedServer';
use Replicas::ScriptedServer;

our @EXPORT_OK = qw(start_model_server);

# key => the API key the agent is given: any other (or none) gets the
# API's own 401, as the real one answers it
sub start_model_server {
    my (%o) = @_;
    my $scripts = $o{scripts} // [];
    my $delay = $o{delay} // 0;      # seconds before each scripted answer
    my $key = $o{key} // die "start_model_server needs key (the agent's API key)\n";
    return __PACKAGE__->start(%o, name => 'model',
        refuse => sub { _refuse($_[0], $key) },
        answer => sub { _answer(@_, $scripts, $delay) });
}

# Anthropic takes the key as x-api-key, or as a Bearer token (what the
# CLIs send for ANTHROPIC_AUTH_TOKEN)
sub _refuse {
    my ($h, $key) = @_;
    return () if ($h->{'x-api-key'} // '') eq $key
              || ($h->{authorization} // '') eq "Bearer $key";
    return (401, { type => 'error', error => { type => 'authentication_error',
                                               message => 'invalid x-api-key' } });
}

# the requests that carried tools: the agent's own turns
sub turns { [ grep { $_->{body}{tools} && @{ $_->{body}{tools} } } @{ $_[0]->requests } ] }

sub _event {
    my ($c, $type, $data) = @_;
    $data->{type} = $type;
    print {$c} "event: $type\ndata: " . encode_json($data) . "\n\n";
}

# the latest user message a script matches (the CLI wraps prompts in
# reminders of its own, in other text parts or messages), and how many
# assistant turns came after it: the step
sub _script_and_step {
    my ($messages, $scripts) = @_;
    my $steps = 0;
    my $last = '';
    for (my $i = $#$messages; $i >= 0; $i--) {
        my $m = $messages->[$i];
        if ($m->{role} eq 'assistant') { $steps++; next }
        my $content = $m->{content};
        my @parts = ref $content ? @$content : ({ type => 'text', text => $content });
        # tool results (with the CLI's reminders beside them) are not prompts
        next if grep { $_->{type} eq 'tool_result' } @parts;
        my $text = join "\n", map { $_->{text} } grep { $_->{type} eq 'text' } @parts;
        next unless $text =~ /\S/;
        $last = $text if $last eq '';
        for my $s (@$scripts) {
            return ($s, $steps, $text) if $text =~ $s->{match};
        }
    }
    return (undef, $steps, $last);
}

sub _tool_results_since {
    my ($messages, $prompt) = @_;
    my $n = 0;
    for (my $i = $#$messages; $i >= 0; $i--) {
        my $content = $messages->[$i]{content};
        # the CLI sends earlier prompts as plain strings (only the latest
        # as parts): the prompt may be one
        if (!ref $content) {
            last if $messages->[$i]{role} eq 'user' && $content eq $prompt;
            next;
        }
        if ($messages->[$i]{role} eq 'user') {
            my @results = grep { $_->{type} eq 'tool_result' } @$content;
            $n += @results;
            next if @results;
            my $text = join "\n", map { $_->{text} } grep { $_->{type} eq 'text' } @$content;
            last if $text eq $prompt;
        }
    }
    return $n;
}

sub _answer {
    my ($c, $method, $path, $h, $req, $scripts, $delay) = @_;
    if ($path =~ m{^/v1/messages/count_tokens}) {
        return Replicas::ScriptedServer::send_json($c, 200, { input_tokens => 100 });
    }
    if ($method ne 'POST' || $path !~ m{^/v1/messages(\?|$)}) {
        return Replicas::ScriptedServer::send_json($c, 404, { type => 'error',
            error => { type => 'not_found_error', message => "no $method $path here" } });
    }

    my @blocks;
    my $stop = 'end_turn';
    if (!$req->{tools} || !@{ $req->{tools} }) {
        @blocks = ({ text => 'Replicas test' });
    } else {
        my ($script, $step, $prompt) = _script_and_step($req->{messages} // [], $scripts);
        # the CLI folds a turn's answers into one assistant message: its
        # tool results say how far the script has gone
        $step = _tool_results_since($req->{messages} // [], $prompt);
        my $s = $script ? $script->{steps}[$step] : undef;
        $s //= { text => $script ? 'All done.' : 'I have no script for: ' . substr($prompt, -200) };
        sleep($s->{delay} // $delay) if $s->{delay} // $delay;
        if ($s->{tool}) {
            @blocks = ({ text => $s->{say} // "Using $s->{tool}." },
                       { tool => $s->{tool}, input => $s->{input} });
            $stop = 'tool_use';
        } else {
            @blocks = ({ text => $s->{text} });
        }
    }

    print {$c} "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        . "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    my $id = 'msg_' . int(rand(1e9));
    _event($c, 'message_start', { message => {
        id => $id, type => 'message', role => 'assistant',
        model => $req->{model} // 'claude-test', content => [],
        stop_reason => undef, stop_sequence => undef,
        usage => { input_tokens => 120, output_tokens => 1,
                   cache_creation_input_tokens => 0, cache_read_input_tokens => 0 } } });
    my $i = 0;
    for my $b (@blocks) {
        if (defined $b->{tool}) {
            _event($c, 'content_block_start', { index => $i, content_block => {
                type => 'tool_use', id => 'toolu_' . int(rand(1e9)), name => $b->{tool},
                input => {} } });
            _event($c, 'content_block_delta', { index => $i, delta => {
                type => 'input_json_delta', partial_json => encode_json($b->{input}) } });
        } else {
            _event($c, 'content_block_start', { index => $i,
                content_block => { type => 'text', text => '' } });
            # in two pieces: the CLI sees deltas
            my $t = $b->{text};
            my $half = int(length($t) / 2);
            for my $piece (substr($t, 0, $half), substr($t, $half)) {
                next unless length $piece;
                _event($c, 'content_block_delta', { index => $i,
                    delta => { type => 'text_delta', text => $piece } });
            }
        }
        _event($c, 'content_block_stop', { index => $i });
        $i++;
    }
    _event($c, 'message_delta', { delta => { stop_reason => $stop, stop_sequence => undef },
                                  usage => { output_tokens => 25 } });
    _event($c, 'message_stop', {});
}

1;
