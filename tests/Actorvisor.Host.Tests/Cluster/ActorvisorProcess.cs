using System.Diagnostics;
using System.Text;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// A real `actorvisor` process (the built actorvisor.dll under `dotnet`): output captured line by line, with
/// awaitable waits for a line, SIGTERM (graceful) and SIGKILL.
/// </summary>
public sealed class ActorvisorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ActorvisorProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>A label for messages.</summary>
    public string Name { get; }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything it printed so far (stdout and stderr interleaved by arrival).</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>The built actorvisor.dll next to the tests.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "actorvisor.dll");

    /// <summary>
    /// Starts `dotnet actorvisor.dll ARGS` with <paramref name="environment"/> added; with a <paramref name="launcher"/>
    /// (a command that execs the rest of its arguments, e.g. setpriv ... --), `LAUNCHER... dotnet actorvisor.dll ARGS`.
    /// </summary>
    public static ActorvisorProcess Start(string name, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        IReadOnlyList<string>? launcher = null)
    {
        var info = StartInfo(args, environment, launcher);
        info.RedirectStandardInput = true;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var p = new ActorvisorProcess(name, process);
        process.OutputDataReceived += (_, e) => p.OnLine(e.Data, p._outputClosed);
        process.ErrorDataReceived += (_, e) => p.OnLine(e.Data, p._errorClosed);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return p;
    }

    /// <summary>
    /// Runs `actorvisor ARGS` to completion (with <paramref name="input"/> on its stdin, then end of input, if given),
    /// through <paramref name="launcher"/> if given (as <see cref="Start"/>).
    /// </summary>
    public static async Task<CliResult> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null, string? input = null,
        IReadOnlyList<string>? launcher = null)
    {
        var info = StartInfo(args, environment, launcher);
        info.RedirectStandardInput = input is not null;
        using var process = Process.Start(info)!;
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"actorvisor {string.Join(' ', args)} did not finish: {await stdout}{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    private static ProcessStartInfo StartInfo(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, IReadOnlyList<string>? launcher)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var info = new ProcessStartInfo(launcher is { Count: > 0 } ? launcher[0] : dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (launcher is { Count: > 0 })
        {
            foreach (var a in launcher.Skip(1)) info.ArgumentList.Add(a);
            info.ArgumentList.Add(dotnet);
        }
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        // Node settings in the test runner's environment must not leak into the processes under test.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ACTORVISOR_", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        return info;
    }

    /// <summary>Completes when a line containing <paramref name="text"/> has been printed (also if it already was).</summary>
    public Task WaitForLineAsync(string text, TimeSpan timeout)
    {
        TaskCompletionSource seen;
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal)) return Task.CompletedTask;
            seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((text, seen));
        }
        return seen.Task.WaitAsync(timeout).ContinueWith(t =>
        {
            if (t.IsFaulted) throw new TimeoutException($"{Name} did not print '{text}' (within {timeout.TotalSeconds} s, or before it exited); output:\n{Output}");
        });
    }

    /// <summary>Closes the process's standard input (a node started with --stop-on-stdin-eof then stops).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>SIGTERM: a node tears its VMs down and leaves the cluster.</summary>
    public void Terminate()
    {
        if (!_process.HasExited) _ = Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGTERM);
    }

    /// <summary>SIGSTOP: the process stops answering but keeps its sockets open, as a hung or cut-off machine does.</summary>
    public void Freeze()
    {
        if (!_process.HasExited) _ = Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGSTOP);
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public void KillHard()
    {
        if (!_process.HasExited) _process.Kill();
    }

    /// <summary>Waits for the exit and all output; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        await Task.WhenAll(_outputClosed.Task, _errorClosed.Task).WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Terminate();
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                KillHard();
            }
        }
        _process.Dispose();
    }

    private void OnLine(string? line, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            // Once the process has closed both streams nothing more will be printed: fail the waiters now.
            if (_outputClosed.Task.IsCompleted && _errorClosed.Task.IsCompleted)
            {
                List<TaskCompletionSource> orphans;
                lock (_output)
                {
                    orphans = _waiters.Select(w => w.Seen).ToList();
                    _waiters.Clear();
                }
                foreach (var o in orphans) o.TrySetException(new InvalidOperationException($"{Name} exited"));
            }
            return;
        }
        List<TaskCompletionSource> hit;
        lock (_output)
        {
            _output.AppendLine(line);
            hit = _waiters.Where(w => line.Contains(w.Text, StringComparison.Ordinal)).Select(w => w.Seen).ToList();
            _waiters.RemoveAll(w => hit.Contains(w.Seen));
        }
        foreach (var h in hit) h.TrySetResult();
    }
}

/// <summary>How a CLI run ended.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <inheritdoc />
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}
