using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Akka.Actor;

namespace Actorvisor.Actors.Runtime;

/// <summary>
/// A VM created through <see cref="ActorvisorRuntime"/>: lifecycle calls (each answered by the VmActor),
/// and <see cref="Ended"/>, which completes with the VM's outcome once it has been torn down.
/// </summary>
public sealed class VmSession
{
    private readonly TimeSpan _timeout;

    internal VmSession(string name, IActorRef vm, IActorRef node, Task<VmOutcome> ended, TimeSpan timeout)
    {
        Name = name;
        Vm = vm;
        Node = node;
        Ended = ended;
        _timeout = timeout;
    }

    /// <summary>The VM's name.</summary>
    public string Name { get; }

    /// <summary>The VmActor.</summary>
    public IActorRef Vm { get; }

    /// <summary>The node the VM lives on.</summary>
    public IActorRef Node { get; }

    /// <summary>Completes with the outcome once the VM has been torn down (guest result code, halt, stop or failure).</summary>
    public Task<VmOutcome> Ended { get; }

    /// <summary>Created -> Running.</summary>
    public Task StartAsync() => Transition(StartVm.Instance);

    /// <summary>Running -> Paused, once every vCPU is parked.</summary>
    public Task PauseAsync() => Transition(PauseVm.Instance);

    /// <summary>Paused -> Running.</summary>
    public Task ResumeAsync() => Transition(ResumeVm.Instance);

    /// <summary>Tears the VM down and returns its outcome.</summary>
    public async Task<VmOutcome> StopAsync() => (await Vm.Ask<VmStopped>(StopVm.Instance, _timeout).ConfigureAwait(false)).Outcome;

    /// <summary>Destroys the VM through the node, freeing its name, and returns its outcome.</summary>
    public async Task<VmOutcome> DestroyAsync() => await Node.Ask(new DestroyVm(Name), _timeout).ConfigureAwait(false) switch
    {
        VmDestroyed d => d.Outcome,
        NodeRequestFailed f => throw new ActorvisorException(f.Error),
        var other => throw new InvalidOperationException($"unexpected reply {other}"),
    };

    /// <summary>Sends <paramref name="bytes"/> to the guest's serial console; returns how many the UART took.</summary>
    public async Task<int> SendConsoleInputAsync(byte[] bytes) =>
        (await Vm.Ask<ConsoleInputAccepted>(new SendConsoleInput(bytes), _timeout).ConfigureAwait(false)).Bytes;

    /// <summary>The VM's description.</summary>
    public Task<VmDescription> DescribeAsync() => Vm.Ask<VmDescription>(GetVmDescription.Instance, _timeout);

    /// <summary>Waits for the end, up to <paramref name="timeout"/>; then stops the VM and returns the stop's outcome.</summary>
    public async Task<VmOutcome> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Ended.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await StopAsync().ConfigureAwait(false);
            return await Ended.ConfigureAwait(false);
        }
    }

    private async Task Transition(object request)
    {
        switch (await Vm.Ask(request, _timeout).ConfigureAwait(false))
        {
            case VmTransitioned:
                return;
            case VmRequestFailed f:
                throw new ActorvisorException(f.VmName, f.Error);
            case var other:
                throw new InvalidOperationException($"unexpected reply {other}");
        }
    }
}
