package Replicas::ResponsesServer;

# A local stand-in for OpenAI's Responses API, so the real Codex CLI (a
# custom model provider pointed here) runs turns the test scripts:
# POST /v1/responses with "stream": true answers in the API's own
# server-sent events (response.created, response.output_item.added,
# response.output_text.delta, response.output_item.done,
# response.completed with usage), assistant messages and tool calls alike.
#
# A script is a list of steps per prompt: the step is chosen by how many
# tool outputs (function_call_output, custom_tool_call_output) the input
# holds since the prompt, so the CLI's tool results lead it on:
#   start_responses_server(scripts => [
#       { match => qr/write a file/, steps => [
#           { shell => 'echo hi > x' },                       # exec_command
#           { tool => 'exec_command', input => { cmd => 'ls' } },
#           { custom => 'apply_patch', input => "*** Begin Patch\n..." },
#           { text => 'done' } ] } ])
# Requests without tools (side requests) get a short text.  Every request
# is kept (->requests, ->turns) for assertions.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use Time::HiRes qw(sleep);
use parent -norequire, 'Replicas::ScriptedServer';
use Replicas::ScriptedServer;

our @EXPORT_OK = qw(start_responses_server);

# key => the API key the agent is given: any other (or none) gets the
# API's own 401, as the real one answers it
sub start_responses_server {
    my (%o) = @_;
    my $scripts = $o{scripts} // [];
    my $delay = $o{delay} // 0;      # seconds before each scripted answer
    my $key = $o{key} // die "start_responses_server needs key (the agent's API key)\n";
    return __PACKAGE__->start(%o, name => 'responses', url_path => '/v1',
        refuse => sub { _refuse($_[0], $key) },
        answer => sub { _answer(@_, $scripts, $delay) });
}

# OpenAI takes the key only as a Bearer token
sub _refuse {
    my ($h, $key) = @_;
    return () if ($h->{authorization} // '') eq "Bearer $key";
    return (401, { error => { message => 'Incorrect API key provided. You can find your '
                                       . 'API key at https://platform.openai.com/account/api-keys.',
                              type => 'invalid_request_error', param => undef,
                              code => 'invalid_api_key' } });
}

# the base URL is url(), /v1 included

# the requests that carried tools: the agent's own turns
sub turns { [ grep { _has_tools($_->{body}) } @{ $_[0]->requests } ] }

# tools come as "tools", or (some models) as an "additional_tools" input item
sub _has_tools {
    my ($req) = @_;
    return 1 if ref $req->{tools} eq 'ARRAY' && @{ $req->{tools} };
    return scalar grep { ref $_ eq 'HASH' && ($_->{type} // '') eq 'additional_tools' }
                       @{ ref $req->{input} eq 'ARRAY' ? $req->{input} : [] };
}

my $sequence = 0;
sub _event {
    my ($c, $type, $data) = @_;
    $data->{type} = $type;
    $data->{sequence_number} = $sequence++;
    print {$c} "event: $type\ndata: " . encode_json($data) . "\n\n";
}

sub _text_of {
    my ($item) = @_;
    my $content = $item->{content};
    return $content unless ref $content;
    return join "\n", map { $_->{text} // '' }
                      grep { ($_->{type} // '') =~ /^(input_text|output_text|text)$/ } @$content;
}

# the latest user message a script matches (the CLI adds messages of its
# own: environment context, instructions), and how many tool outputs came
# after it: the step
sub _script_and_step {
    my ($input, $scripts) = @_;
    my $steps = 0;
    my $last = '';
    for (my $i = $#$input; $i >= 0; $i--) {
        my $m = $input->[$i];
        next unless ref $m eq 'HASH';
        my $type = $m->{type} // 'message';
        if ($type eq 'function_call_output' || $type eq 'custom_tool_call_output') {
            $steps++;
            next;
        }
        next unless $type eq 'message' && ($m->{role} // '') eq 'user';
        my $text = _text_of($m);
        next unless $text =~ /\S/;
        $last = $text if $last eq '';
        for my $s (@$scripts) {
            return ($s, $steps, $text) if $text =~ $s->{match};
        }
    }
    return (undef, $steps, $last);
}

sub _id { $_[0] . '_' . join '', map { sprintf '%x', int rand 16 } 1 .. 24 }

sub _answer {
    my ($c, $method, $path, $h, $req, $scripts, $delay) = @_;
    if ($method eq 'GET' && $path =~ m{^/v1/models(\?|$)}) {
        return Replicas::ScriptedServer::send_json($c, 200, { object => 'list', data => [], models => [] });
    }
    if ($method ne 'POST' || $path !~ m{^/v1/responses(\?|$)}) {
        return Replicas::ScriptedServer::send_json($c, 404, { error => { type => 'not_found',
            message => "no $method $path here" } });
    }

    my @items;
    if (!_has_tools($req)) {
        @items = ({ text => 'Replicas test' });
    } else {
        my ($script, $step, $prompt) = _script_and_step($req->{input} // [], $scripts);
        my $s = $script ? $script->{steps}[$step] : undef;
        $s //= { text => $script ? 'All done.' : 'I have no script for: ' . substr($prompt, -200) };
        sleep($s->{delay} // $delay) if $s->{delay} // $delay;
        if ($s->{http_status}) {
            # the API refusing the request, as OpenAI's does
            return Replicas::ScriptedServer::send_json($c, $s->{http_status}, { error => {
                type => 'invalid_request_error', code => undef, param => undef,
                message => $s->{message} // 'refused' } });
        }
        if (defined $s->{shell}) {
            @items = ({ text => $s->{say} // 'Running a command.' },
                      { function => 'exec_command', input => { cmd => $s->{shell} } });
        } elsif ($s->{tool}) {
            @items = ({ text => $s->{say} // "Using $s->{tool}." },
                      { function => $s->{tool}, input => $s->{input} });
        } elsif ($s->{custom}) {
            @items = ({ text => $s->{say} // "Using $s->{custom}." },
                      { custom => $s->{custom}, input => $s->{input} });
        } else {
            @items = ({ text => $s->{text} });
        }
    }

    print {$c} "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        . "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    my $rid = _id('resp');
    my $model = $req->{model} // 'gpt-test';
    my %resp = (id => $rid, object => 'response', created_at => int(time), model => $model,
                status => 'in_progress', output => []);
    _event($c, 'response.created', { response => { %resp } });
    _event($c, 'response.in_progress', { response => { %resp } });
    my (@done, $i);
    $i = 0;
    for my $b (@items) {
        my $item;
        if (defined $b->{function}) {
            $item = { type => 'function_call', id => _id('fc'), call_id => _id('call'),
                      name => $b->{function}, arguments => encode_json($b->{input}),
                      status => 'completed' };
            _event($c, 'response.output_item.added', { output_index => $i,
                item => { %$item, arguments => '', status => 'in_progress' } });
            _event($c, 'response.function_call_arguments.delta', { output_index => $i,
                item_id => $item->{id}, delta => $item->{arguments} });
            _event($c, 'response.function_call_arguments.done', { output_index => $i,
                item_id => $item->{id}, arguments => $item->{arguments} });
        } elsif (defined $b->{custom}) {
            $item = { type => 'custom_tool_call', id => _id('ctc'), call_id => _id('call'),
                      name => $b->{custom}, input => $b->{input}, status => 'completed' };
            _event($c, 'response.output_item.added', { output_index => $i,
                item => { %$item, input => '', status => 'in_progress' } });
            _event($c, 'response.custom_tool_call_input.delta', { output_index => $i,
                item_id => $item->{id}, delta => $item->{input} });
            _event($c, 'response.custom_tool_call_input.done', { output_index => $i,
                item_id => $item->{id}, input => $item->{input} });
        } else {
            my $t = $b->{text};
            $item = { type => 'message', id => _id('msg'), role => 'assistant',
                      status => 'completed',
                      content => [{ type => 'output_text', text => $t, annotations => [] }] };
            _event($c, 'response.output_item.added', { output_index => $i,
                item => { %$item, status => 'in_progress', content => [] } });
            _event($c, 'response.content_part.added', { output_index => $i,
                item_id => $item->{id}, content_index => 0,
                part => { type => 'output_text', text => '', annotations => [] } });
            # in two pieces: the CLI sees deltas
            my $half = int(length($t) / 2);
            for my $piece (substr($t, 0, $half), substr($t, $half)) {
                next unless length $piece;
                _event($c, 'response.output_text.delta', { output_index => $i,
                    item_id => $item->{id}, content_index => 0, delta => $piece });
            }
            _event($c, 'response.output_text.done', { output_index => $i,
                item_id => $item->{id}, content_index => 0, text => $t });
            _event($c, 'response.content_part.done', { output_index => $i,
                item_id => $item->{id}, content_index => 0,
                part => { type => 'output_text', text => $t, annotations => [] } });
        }
        _event($c, 'response.output_item.done', { output_index => $i, item => $item });
        push @done, $item;
        $i++;
    }
    _event($c, 'response.completed', { response => { %resp, status => 'completed',
        output => \@done,
        usage => { input_tokens => 120, input_tokens_details => { cached_tokens => 0 },
                   output_tokens => 25, output_tokens_details => { reasoning_tokens => 0 },
                   total_tokens => 145 } } });
}

1;
