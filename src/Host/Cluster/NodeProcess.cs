using System.Diagnostics;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// An `actorvisor node` child process started by this executable (for `bench api`): output kept in memory,
/// awaitable waits for a line, and SIGTERM to stop it the way systemd would.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = new();

    private NodeProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>The node's name.</summary>
    public string Name { get; }

    /// <summary>The last lines it printed (for error messages).</summary>
    public string Tail
    {
        get
        {
            lock (_lines) return string.Join('\n', _lines.TakeLast(30));
        }
    }

    /// <summary>Starts `actorvisor node ARGS` with the same executable that runs this process.</summary>
    public static NodeProcess Start(string name, IEnumerable<string> nodeArgs)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this executable is unknown");
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        // Under `dotnet actorvisor.dll` (or a test host) the executable is the dotnet host: pass the assembly first.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(NodeProcess).Assembly.Location);
        info.ArgumentList.Add("node");
        // If this process dies, the node's stdin closes and it stops instead of running on orphaned.
        info.ArgumentList.Add("--stop-on-stdin-eof");
        foreach (var a in nodeArgs) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ACTORVISOR_", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        var process = new Process { StartInfo = info };
        var node = new NodeProcess(name, process);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Completes once a line containing <paramref name="text"/> has been printed.</summary>
    public async Task WaitForLineAsync(string text, TimeSpan timeout)
    {
        TaskCompletionSource seen;
        lock (_lines)
        {
            if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return;
            seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((text, seen));
        }
        var exited = _process.WaitForExitAsync();
        if (await Task.WhenAny(seen.Task, exited, Task.Delay(timeout)).ConfigureAwait(false) != seen.Task)
            throw new InvalidOperationException($"node {Name} did not print '{text}' ({(_process.HasExited ? "it exited" : $"{timeout.TotalSeconds:0} s")}):\n{Tail}");
    }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL: the node dies at once, as in a crash (its VMs die with it).</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
    }

    /// <summary>Stops the node with SIGTERM (it tears its VMs down and leaves the cluster) and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGTERM);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _process.Kill();
            }
        }
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        List<TaskCompletionSource> hit;
        lock (_lines)
        {
            _lines.Add(line);
            if (_lines.Count > 1000) _lines.RemoveRange(0, 500);
            hit = _waiters.Where(w => line.Contains(w.Text, StringComparison.Ordinal)).Select(w => w.Seen).ToList();
            _waiters.RemoveAll(w => hit.Contains(w.Seen));
        }
        foreach (var h in hit) h.TrySetResult();
    }
}
