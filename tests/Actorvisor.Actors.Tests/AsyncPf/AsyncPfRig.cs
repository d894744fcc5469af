using Actorvisor.Actors.AsyncPf;
using Actorvisor.Hardware.Lazy;
using Akka.TestKit;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// The async-PF actors of one "VM" without a guest: lazy memory whose faults go to an <see cref="AsyncPfActor"/>,
/// and test threads bound as its vCPUs that touch pages from native code, as vCPU threads do. Lets a test order
/// faults and completions deliberately.
/// </summary>
internal sealed class AsyncPfRig : IDisposable
{
    private readonly TestKitBase _kit;
    private bool _flushed;

    public AsyncPfRig(TestKitBase kit, IBackingStore store, int vcpus, int pages, AsyncPfOptions options)
    {
        _kit = kit;
        Router = new AsyncPfRouter(store, vcpus, 0, options);
        Lazy = LazyGuestMemory.Create((ulong)pages * 4096, Router, name: "rig");
        Router.Attach(Lazy);
        Actor = kit.Sys.ActorOf(AsyncPfActor.Props(Router, "rig"));
        kit.AwaitCondition(() => Router.Vcpus.All(v => v.Queue is not null), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(1)); // failure-only bound
    }

    public AsyncPfRouter Router { get; }
    public LazyGuestMemory Lazy { get; }
    public IActorRef Actor { get; }

    internal AsyncPfVcpu Vcpu(int id) => Router.Vcpus[id];

    /// <summary>Runs <paramref name="body"/> on a new thread bound as vCPU <paramref name="vcpu"/>.</summary>
    public Task AsVcpu(int vcpu, Action body) => NativeTouch.OnThread($"rig-vcpu{vcpu}", () =>
    {
        Router.BindVcpuThread(vcpu, NativeTouch.ThreadId());
        body();
    });

    /// <summary>Reads the dword at byte <paramref name="offset"/> of the region as a vCPU does (may fault).</summary>
    public uint Touch(ulong offset) => NativeTouch.ReadDword(Lazy.Address + (nint)offset);

    public AsyncPfVcpuCounters Counters(int vcpu) => Router.Report("rig").Vcpus[vcpu];

    /// <summary>The teardown's FlushOutstandingWork for these actors.</summary>
    internal AsyncPfFlushed Flush()
    {
        _flushed = true;
        Actor.Tell(FlushAsyncPf.Instance, _kit.TestActor);
        return _kit.ExpectMsg<AsyncPfFlushed>(TimeSpan.FromSeconds(20));
    }

    /// <summary>Stops the async-PF actors without a flush, as when they fail or their VM actor is stopped.</summary>
    public void StopActorsWithoutFlush()
    {
        _flushed = true;
        var watcher = _kit.CreateTestProbe();
        watcher.Watch(Actor);
        _kit.Sys.Stop(Actor);
        watcher.ExpectTerminated(Actor, TimeSpan.FromSeconds(20));
    }

    public void Dispose()
    {
        if (!_flushed) Flush();
        Router.WaitForNoFetches(TimeSpan.FromSeconds(20));
        _kit.Sys.Stop(Actor);
        Lazy.Dispose();
        Router.Dispose();
    }
}
