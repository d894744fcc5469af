using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// The guest of issue 15 point 5: a small 64-bit kernel that uses KVM's async page-fault protocol, the same image on
/// both accelerators. It owns an IDT, a LAPIC timer tick (vector <see cref="TimerVector"/>, 1 ms periodic), a
/// round-robin scheduler of one walker task, <c>computeTasks</c> compute tasks and an idle task, and the guest side
/// of the protocol: "page not present" (#PF with flags = 1 in its area, the token in CR2) puts the faulting task to
/// sleep on its token and runs another; "page ready" (vector <see cref="PageReadyVector"/>) wakes the sleeper (and
/// switches to it); token 0xffffffff wakes every sleeper.
/// </summary>
/// <remarks>
/// <para>The race of seed 003 (s390 pfault's -1 state): the #PF handler enables interrupts for a moment between
/// reading its token and going to sleep (as Linux's handler runs with interrupts on), so a "page ready" for that token
/// can arrive first. The ready handler then leaves a dummy entry in the sleep table (x86 Linux's
/// <c>kvm_async_pf_task_wake</c> does the same) and counts an early ready; the late sleep finds the dummy, frees it and
/// returns at once, retrying the access.</para>
/// <para>The walker reads the first dword of each of <c>walkPages</c> pages from <c>lazyAddress</c> and sums them; each
/// compute task counts units of 256 xorshift steps. When the walker is done it turns interrupts off and prints
/// (every number as 8 hex digits):
/// <code>
/// apf: on|off
/// walk: pages=PPPPPPPP sum=SSSSSSSS
/// task0: progress          (the walker: pages walked)
/// taskN: progress          (compute task N: units done)
/// compute: units=UUUUUUUU  (all compute tasks together)
/// sched: ticks=XXXXXXXX woken-kept=XXXXXXXX   (timer ticks; ticks that left a just-woken task running)
/// events: not-present=XXXXXXXX ready=XXXXXXXX early=XXXXXXXX late=XXXXXXXX wakeup-all=XXXXXXXX
/// </code>
/// and exits with 0 through the debug-exit port. Any other exception, or a #PF that is not an async "page not
/// present", prints "fatal: vector=VVVVVVVV cr2=... frame=..." (the two qwords on top of the stack: error code and
/// RIP, or RIP and CS) and exits with <see cref="FatalResultCode"/>.</para>
/// <para>Built with a hold port (a benchmark's), the guest writes 0 to that port as its tasks start; the walker when
/// done writes 1 to it, parks (software interrupt
/// <see cref="ParkVector"/>: it leaves the run queue, the compute tasks keep the vCPU) and each timer tick then reads
/// the port; once it reads non-zero the walker runs again and reports as above. So the compute tasks' rate can be
/// measured over the same window whether the walk took seconds or no time at all.</para>
/// <para>It enables the protocol only when asked to and when CPUID leaf 0x40000000 says KVM with leaf 0x40000001's
/// ASYNC_PF and ASYNC_PF_INT; otherwise it prints "apf: off" and every missing page blocks the vCPU (today's
/// behaviour). Its state lives in ordinary RAM from <see cref="GuestLayout.DataBase"/> (addresses below), so a test
/// or a benchmark reads the counters there.</para>
/// </remarks>
public static class AsyncPfSchedulerGuest
{
    /// <summary>The page-ready vector it writes to MSR_KVM_ASYNC_PF_INT.</summary>
    public const int PageReadyVector = 0xEC;

    /// <summary>The LAPIC timer's vector (the scheduler tick).</summary>
    public const int TimerVector = 0x20;

    /// <summary>The software interrupt the walker parks itself with when built with a hold port.</summary>
    public const int ParkVector = 0x30;

    /// <summary>The spurious-interrupt vector (SVR).</summary>
    public const int SpuriousVector = 0xFF;

    /// <summary>The LAPIC timer's initial count: 1 ms at KVM's 1 GHz APIC bus with divide-by-1.</summary>
    public const uint TimerInitialCount = 1_000_000;

    /// <summary>Most compute tasks.</summary>
    public const int MaxComputeTasks = 8;

    /// <summary>Most pages the walker reads.</summary>
    public const int MaxWalkPages = 0x10_0000;

    /// <summary>The lowest address the walked pages may start at: above the guest's own state.</summary>
    public const ulong MinWalkAddress = GuestLayout.DataBase + 0x10000;

    /// <summary>The result code of an unexpected exception.</summary>
    public const int FatalResultCode = 0xEE;

    /// <summary>xorshift steps per compute unit.</summary>
    public const int StepsPerUnit = 256;

    /// <summary>The async-PF area (struct kvm_vcpu_pv_apf_data; 64-byte aligned) given to MSR_KVM_ASYNC_PF_EN.</summary>
    public const ulong Area = GuestLayout.DataBase;

    /// <summary>Dword: "page not present" events taken.</summary>
    public const ulong NotPresentCount = GuestLayout.DataBase + 0x100;

    /// <summary>Dword: "page ready" events taken (wakeup-all excluded), early ones included.</summary>
    public const ulong ReadyCount = GuestLayout.DataBase + 0x104;

    /// <summary>Dword: "page ready" events that came before their task slept on the token (a dummy entry was left).</summary>
    public const ulong EarlyReadyCount = GuestLayout.DataBase + 0x108;

    /// <summary>Dword: wakeup-all events taken.</summary>
    public const ulong WakeupAllCount = GuestLayout.DataBase + 0x10c;

    /// <summary>Dword: timer ticks taken.</summary>
    public const ulong TickCount = GuestLayout.DataBase + 0x110;

    /// <summary>Dword: late sleeps that found their dummy entry and returned at once (equals the early count once settled).</summary>
    public const ulong LateSleepCount = GuestLayout.DataBase + 0x114;

    /// <summary>Dword: tasks asleep on a token right now.</summary>
    public const ulong SleepingCount = GuestLayout.DataBase + 0x118;

    /// <summary>Dword: the running task's index.</summary>
    public const ulong CurrentTask = GuestLayout.DataBase + 0x120;

    /// <summary>Dword: the walker's sum, written when it is done.</summary>
    public const ulong WalkSum = GuestLayout.DataBase + 0x124;

    /// <summary>Dword: 1 if the guest enabled the protocol.</summary>
    public const ulong ApfEnabled = GuestLayout.DataBase + 0x128;

    /// <summary>Dword: the token of the last "page not present".</summary>
    public const ulong LastNotPresentToken = GuestLayout.DataBase + 0x12c;

    /// <summary>
    /// Dword: 1 + the task the last "page ready" woke and switched to, until the next tick (0: none). That tick leaves
    /// the woken task running instead of preempting it: a tick pending when the page-ready came would otherwise take
    /// the vCPU from it again at once and put it behind every compute task.
    /// </summary>
    public const ulong WokenTask = GuestLayout.DataBase + 0x130;

    /// <summary>Dword: ticks that found the task a "page ready" had just woken still running and left it so.</summary>
    public const ulong WokenKeptCount = GuestLayout.DataBase + 0x134;

    /// <summary>Task control blocks: <see cref="TcbSize"/> bytes each (saved RSP at 0, state at 8, progress at 16).</summary>
    public const ulong Tcbs = GuestLayout.DataBase + 0x200;

    /// <summary>Bytes per task control block.</summary>
    public const int TcbSize = 32;

    /// <summary>The sleep table: <see cref="SleepSlots"/> entries of (token dword, task dword; 0xffffffff = dummy); token 0 = free.</summary>
    public const ulong SleepTable = GuestLayout.DataBase + 0x400;

    /// <summary>Entries of the sleep table: twice the per-vCPU limit of outstanding tokens.</summary>
    public const int SleepSlots = 2 * AsyncPfProtocol.PerVcpuLimit;

    /// <summary>Task state: may run.</summary>
    public const uint Runnable = 0;

    /// <summary>Task state: asleep on a token.</summary>
    public const uint Sleeping = 1;

    /// <summary>Task state: the walker, done, parked until its hold port reads non-zero.</summary>
    public const uint Parked = 2;

    private const ulong IdtPointer = GuestLayout.DataBase + 0x800;
    private const ulong Idt = GuestLayout.DataBase + 0x1000;
    private const ulong Stacks = GuestLayout.DataBase + 0x2000;
    private const int StackSize = 0x1000;
    private const int GprCount = 15;

    /// <summary>The progress counter (qword) of task <paramref name="task"/>: pages walked for task 0, units for the others.</summary>
    public static ulong ProgressOf(int task) => Tcbs + (ulong)task * TcbSize + 16;

    /// <summary>The state dword of task <paramref name="task"/>.</summary>
    public static ulong StateOf(int task) => Tcbs + (ulong)task * TcbSize + 8;

    /// <summary>The sum the walker prints: the first dword of each page it walks, from the bytes of the region.</summary>
    public static uint ExpectedSum(ReadOnlySpan<byte> region, int walkPages)
    {
        uint sum = 0;
        for (int p = 0; p < walkPages; p++) sum += BitConverter.ToUInt32(region[(p * 4096)..]);
        return sum;
    }

    /// <summary>The "walk:" line for <paramref name="walkPages"/> pages summing to <paramref name="sum"/>.</summary>
    public static string WalkLine(int walkPages, uint sum) => $"walk: pages={(uint)walkPages:x8} sum={sum:x8}\n";

    /// <summary>
    /// Assembles the guest: one walker over <paramref name="walkPages"/> pages from <paramref name="lazyAddress"/> (4 KiB
    /// aligned, below 4 GiB), <paramref name="computeTasks"/> compute tasks, and the protocol enabled if
    /// <paramref name="useAsyncPf"/> and the CPU offers it; with a <paramref name="holdPort"/> (not 0) the walker parks
    /// when done until that port reads non-zero (see the remarks).
    /// </summary>
    public static GuestImage Build(ulong lazyAddress, int walkPages, int computeTasks, bool useAsyncPf, ushort holdPort = 0)
    {
        if (walkPages < 1 || walkPages > MaxWalkPages) throw new ArgumentOutOfRangeException(nameof(walkPages), walkPages, $"walkPages must be 1..{MaxWalkPages}");
        if (computeTasks < 1 || computeTasks > MaxComputeTasks)
            throw new ArgumentOutOfRangeException(nameof(computeTasks), computeTasks, $"computeTasks must be 1..{MaxComputeTasks}");
        if (lazyAddress % 4096 != 0 || lazyAddress < MinWalkAddress || lazyAddress + (ulong)walkPages * 4096 > GuestLayout.MmioWindowBase)
            throw new ArgumentOutOfRangeException(nameof(lazyAddress), lazyAddress, "the walked range must be 4 KiB aligned, above the guest's own state and below the MMIO window");
        const ulong origin = GuestLayout.ImageBase;
        int tasks = computeTasks + 2; // walker, compute tasks, idle
        var bytes = GuestAssembler.Assemble(64, origin, g => new Emitter(g, lazyAddress, walkPages, computeTasks, tasks, useAsyncPf, holdPort).Program());
        return new GuestImage("asyncpf-scheduler", bytes, origin, origin, BootMode.Long, 1,
            $"long mode: a scheduler of 1 walker ({walkPages} pages at 0x{lazyAddress:x}) and {computeTasks} compute tasks using KVM's async page faults"
            + (useAsyncPf ? "" : " (protocol left off)"))
        {
            ExpectedResultCode = 0,
            MinimumMemoryBytes = Stacks + (ulong)tasks * StackSize,
        };
    }

    private sealed class Emitter(GuestAssembler g, ulong lazyAddress, int walkPages, int computeTasks, int tasks, bool useAsyncPf, ushort holdPort)
    {
        private readonly Assembler a = g.Asm;
        private int Idle => tasks - 1;

        public void Program()
        {
            a.cld();
            a.cli();
            BuildIdt();
            EnableAsyncPf();
            StartApic();
            for (int t = 0; t < tasks; t++) BuildTaskFrame(t);
            if (holdPort != 0)
            {
                // Tell the host the tasks start now (a benchmark times its window from here, not from the VM's start).
                a.mov(dx, holdPort);
                a.mov(al, 0);
                a.@out(dx, al);
            }
            // Start the walker: its frame's IRETQ turns interrupts on.
            a.mov(__dword_ptr[CurrentTask], 0);
            a.mov(rsp, __qword_ptr[Tcbs]);
            PopAll();
            a.iretq();

            Walker();
            Compute();
            IdleTask();
            PageFaultHandler();
            PageReadyHandler();
            TimerHandler();
            SwitchRoutines();
            SleepTableRoutines();
            FatalHandlers();
            SetGate();
        }

        // ---- boot ----

        private void BuildIdt()
        {
            for (int v = 0; v < 32; v++)
            {
                if (v == 14) continue;
                Gate(v, $"fatal{v}");
            }
            Gate(14, "page_fault");
            Gate(TimerVector, "timer");
            Gate(PageReadyVector, "page_ready");
            Gate(ParkVector, "park");
            Gate(SpuriousVector, "spurious");
            a.mov(__word_ptr[IdtPointer], (ushort)(256 * 16 - 1));
            a.mov(rax, Idt);
            a.mov(__qword_ptr[IdtPointer + 2], rax);
            a.lidt(__[IdtPointer]);
        }

        private void Gate(int vector, string handler)
        {
            a.mov(ecx, (uint)vector);
            a.lea(rax, __[g.L(handler)]);
            a.call(g.L("set_gate"));
        }

        private void EnableAsyncPf()
        {
            var off = a.CreateLabel();
            var done = a.CreateLabel();
            if (useAsyncPf)
            {
                a.mov(eax, KvmParavirtCpuid.SignatureLeaf);
                a.cpuid();
                a.cmp(ebx, KvmParavirtCpuid.SignatureEbx);
                a.jne(off);
                a.cmp(ecx, KvmParavirtCpuid.SignatureEcx);
                a.jne(off);
                a.cmp(edx, KvmParavirtCpuid.SignatureEdx);
                a.jne(off);
                a.cmp(eax, KvmParavirtCpuid.FeaturesLeaf);
                a.jb(off);
                a.mov(eax, KvmParavirtCpuid.FeaturesLeaf);
                a.cpuid();
                a.and(eax, KvmParavirtCpuid.FeatureAsyncPf | KvmParavirtCpuid.FeatureAsyncPfInt);
                a.cmp(eax, KvmParavirtCpuid.FeatureAsyncPf | KvmParavirtCpuid.FeatureAsyncPfInt);
                a.jne(off);
                WriteMsr(KvmParavirtMsrs.AsyncPfInterrupt, PageReadyVector);
                WriteMsr(KvmParavirtMsrs.AsyncPfEnable, (uint)Area | (uint)(KvmParavirtMsrs.Enabled | KvmParavirtMsrs.SendAlways | KvmParavirtMsrs.DeliveryAsInt));
                a.mov(__dword_ptr[ApfEnabled], 1);
                g.Print("apf: on\n");
                a.jmp(done);
            }
            a.Label(ref off);
            g.Print("apf: off\n");
            a.Label(ref done);
        }

        private void WriteMsr(uint index, uint value)
        {
            a.mov(ecx, index);
            a.mov(eax, value);
            a.xor(edx, edx);
            a.wrmsr();
        }

        private void StartApic()
        {
            a.mov(rbx, LocalApic.DefaultBase);
            a.mov(__dword_ptr[rbx + ApicRegister.Svr], 0x100 | SpuriousVector);
            a.mov(__dword_ptr[rbx + ApicRegister.TimerDivide], 0xB); // divide by 1
            a.mov(__dword_ptr[rbx + ApicRegister.LvtTimer], (1 << 17) | TimerVector); // periodic
            a.mov(__dword_ptr[rbx + ApicRegister.TimerInitialCount], TimerInitialCount);
        }

        // An interrupt frame (SS, RSP, RFLAGS with IF, CS, RIP) and zeroed registers on task t's stack; RDI = t.
        private void BuildTaskFrame(int t)
        {
            ulong top = Stacks + (ulong)(t + 1) * StackSize;
            string entry = t == 0 ? "walker" : t == Idle ? "idle" : "compute";
            a.mov(rsp, top);
            a.push(BootGdt.DataSelector);
            a.push((int)top);
            a.push(0x202);
            a.push(BootGdt.Code64Selector);
            a.lea(rax, __[g.L(entry)]);
            a.push(rax);
            // PushAll order: rax rbx rcx rdx rsi rdi rbp r8..r15.
            for (int r = 0; r < GprCount; r++) a.push(r == 5 ? t : 0);
            a.mov(__qword_ptr[Tcbs + (ulong)t * TcbSize], rsp);
            a.mov(__dword_ptr[StateOf(t)], Runnable);
        }

        // ---- tasks ----

        private void Walker()
        {
            g.Mark("walker");
            var next = a.CreateLabel();
            a.mov(rsi, lazyAddress);
            a.mov(ecx, (uint)walkPages);
            a.xor(r12d, r12d);
            a.Label(ref next);
            a.add(r12d, __dword_ptr[rsi]);
            a.inc(__qword_ptr[ProgressOf(0)]);
            a.add(rsi, 4096);
            a.dec(ecx);
            a.jnz(next);
            a.mov(__dword_ptr[WalkSum], r12d);
            if (holdPort != 0)
            {
                // Tell the host the walk is done, then leave the vCPU to the compute tasks until it releases the walker.
                a.mov(dx, holdPort);
                a.mov(al, 1);
                a.@out(dx, al);
                a.@int(ParkVector);
            }
            // Done: stop scheduling, then report.
            a.cli();
            a.mov(rbx, LocalApic.DefaultBase);
            a.mov(__dword_ptr[rbx + ApicRegister.TimerInitialCount], 0);
            g.Print("walk: pages=");
            a.mov(eax, (uint)walkPages);
            g.PrintHex32();
            g.Print(" sum=");
            a.mov(eax, __dword_ptr[WalkSum]);
            g.PrintHex32();
            g.PutChar('\n');
            // Per-task progress, and the compute total in r13.
            a.xor(r13d, r13d);
            for (int t = 0; t <= computeTasks; t++)
            {
                g.Print($"task{t}: ");
                a.mov(rax, __qword_ptr[ProgressOf(t)]);
                if (t > 0) a.add(r13, rax);
                g.PrintHex32();
                g.PutChar('\n');
            }
            g.Print("compute: units=");
            a.mov(eax, r13d);
            g.PrintHex32();
            g.PutChar('\n');
            PrintCounter("sched: ticks=", TickCount);
            PrintCounter(" woken-kept=", WokenKeptCount);
            g.PutChar('\n');
            PrintCounter("events: not-present=", NotPresentCount);
            PrintCounter(" ready=", ReadyCount);
            PrintCounter(" early=", EarlyReadyCount);
            PrintCounter(" late=", LateSleepCount);
            PrintCounter(" wakeup-all=", WakeupAllCount);
            g.PutChar('\n');
            a.mov(al, 0);
            g.DebugExitWithAl();
        }

        private void PrintCounter(string label, ulong address)
        {
            g.Print(label);
            a.mov(eax, __dword_ptr[address]);
            g.PrintHex32();
        }

        // RDI = task index. Counts units of StepsPerUnit xorshift64 steps forever.
        private void Compute()
        {
            g.Mark("compute");
            var unit = a.CreateLabel();
            var step = a.CreateLabel();
            a.lea(rax, __[rdi + 1]);
            a.mov(rbx, rdi);
            a.shl(rbx, 5);
            a.add(rbx, (int)Tcbs + 16);
            a.Label(ref unit);
            a.mov(ecx, StepsPerUnit);
            a.Label(ref step);
            a.mov(rdx, rax);
            a.shl(rdx, 13);
            a.xor(rax, rdx);
            a.mov(rdx, rax);
            a.shr(rdx, 7);
            a.xor(rax, rdx);
            a.mov(rdx, rax);
            a.shl(rdx, 17);
            a.xor(rax, rdx);
            a.dec(ecx);
            a.jnz(step);
            a.inc(__qword_ptr[rbx]);
            a.jmp(unit);
        }

        // Runs when nothing else may: spins with interrupts on (a HLT would end the software accelerator's run).
        private void IdleTask()
        {
            g.Mark("idle");
            a.pause();
            a.jmp(g.L("idle"));
        }

        // ---- interrupt handlers (all interrupt gates: IF = 0 on entry) ----

        private void PushAll()
        {
            a.push(rax); a.push(rbx); a.push(rcx); a.push(rdx); a.push(rsi); a.push(rdi); a.push(rbp);
            a.push(r8); a.push(r9); a.push(r10); a.push(r11); a.push(r12); a.push(r13); a.push(r14); a.push(r15);
        }

        private void PopAll()
        {
            a.pop(r15); a.pop(r14); a.pop(r13); a.pop(r12); a.pop(r11); a.pop(r10); a.pop(r9); a.pop(r8);
            a.pop(rbp); a.pop(rdi); a.pop(rsi); a.pop(rdx); a.pop(rcx); a.pop(rbx); a.pop(rax);
        }

        private void PageFaultHandler()
        {
            g.Mark("page_fault");
            var notAsync = g.L("pf_not_async");
            a.add(rsp, 8); // the error code: every saved context has the same shape
            PushAll();
            a.cmp(__dword_ptr[Area], AsyncPfProtocol.PageNotPresentReason);
            a.jne(notAsync);
            a.mov(__dword_ptr[Area], 0);
            a.mov(r12, cr2);
            a.mov(__dword_ptr[LastNotPresentToken], r12d);
            a.inc(__dword_ptr[NotPresentCount]);
            // The window of seed 003: interrupts on between learning the token and sleeping on it, so a "page ready"
            // for it can come first (STI's shadow covers the first NOP; the vector is taken after it).
            a.sti();
            a.nop();
            a.nop();
            a.cli();
            // Sleep on the token, unless its "page ready" already left a dummy entry.
            a.mov(eax, r12d);
            a.call(g.L("sleep_find"));
            var sleep = a.CreateLabel();
            a.test(rbx, rbx);
            a.jz(sleep);
            a.mov(__dword_ptr[rbx], 0); // free the dummy: the page is there, retry at once
            a.inc(__dword_ptr[LateSleepCount]);
            a.jmp(g.L("resume"));
            a.Label(ref sleep);
            a.xor(eax, eax);
            a.call(g.L("sleep_find")); // a free slot
            a.test(rbx, rbx);
            a.jz(notAsync); // no free slot: cannot happen within the per-vCPU limit
            a.mov(__dword_ptr[rbx], r12d);
            a.mov(eax, __dword_ptr[CurrentTask]);
            a.mov(__dword_ptr[rbx + 4], eax);
            a.shl(eax, 5);
            a.mov(__dword_ptr[rax + (int)Tcbs + 8], Sleeping);
            a.inc(__dword_ptr[SleepingCount]);
            a.jmp(g.L("switch_next"));

            g.Mark("pf_not_async");
            a.mov(r12, cr2);
            a.mov(r13d, 14);
            a.jmp(g.L("fatal"));
        }

        private void PageReadyHandler()
        {
            g.Mark("page_ready");
            PushAll();
            var wakeAll = a.CreateLabel();
            var ack = a.CreateLabel();
            var early = a.CreateLabel();
            a.mov(r12d, __dword_ptr[Area + AsyncPfProtocol.TokenOffset]);
            a.mov(r14d, 0xffff_ffff); // the task to switch to: none
            a.cmp(r12d, AsyncPfProtocol.WakeupAllToken);
            a.je(wakeAll);
            a.inc(__dword_ptr[ReadyCount]);
            a.mov(eax, r12d);
            a.call(g.L("sleep_find"));
            a.test(rbx, rbx);
            a.jz(early);
            // A sleeper: free its entry and make it runnable.
            a.mov(r14d, __dword_ptr[rbx + 4]);
            a.mov(__dword_ptr[rbx], 0);
            a.mov(eax, r14d);
            a.shl(eax, 5);
            a.mov(__dword_ptr[rax + (int)Tcbs + 8], Runnable);
            a.dec(__dword_ptr[SleepingCount]);
            a.jmp(ack);
            // Ready before the sleep: leave a dummy entry the late sleep will find.
            a.Label(ref early);
            a.inc(__dword_ptr[EarlyReadyCount]);
            a.xor(eax, eax);
            a.call(g.L("sleep_find"));
            a.test(rbx, rbx);
            a.jz(ack); // table full (cannot happen): the late sleep then sleeps until a wakeup-all
            a.mov(__dword_ptr[rbx], r12d);
            a.mov(__dword_ptr[rbx + 4], 0xffff_ffff);
            a.jmp(ack);

            // Wakeup-all: every sleeper runs again, dummies are dropped.
            a.Label(ref wakeAll);
            a.inc(__dword_ptr[WakeupAllCount]);
            var slot = a.CreateLabel();
            var nextSlot = a.CreateLabel();
            a.mov(rbx, SleepTable);
            a.mov(ecx, SleepSlots);
            a.Label(ref slot);
            a.cmp(__dword_ptr[rbx], 0);
            a.je(nextSlot);
            a.mov(eax, __dword_ptr[rbx + 4]);
            a.mov(__dword_ptr[rbx], 0);
            a.cmp(eax, 0xffff_ffff);
            a.je(nextSlot);
            a.shl(eax, 5);
            a.mov(__dword_ptr[rax + (int)Tcbs + 8], Runnable);
            a.Label(ref nextSlot);
            a.add(rbx, 8);
            a.dec(ecx);
            a.jnz(slot);
            a.mov(__dword_ptr[SleepingCount], 0);

            // Free the area's token, ACK (lets the next page-ready through), EOI.
            a.Label(ref ack);
            a.mov(__dword_ptr[Area + AsyncPfProtocol.TokenOffset], 0);
            a.mov(ecx, KvmParavirtMsrs.AsyncPfAck);
            a.mov(eax, 1);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(rbx, LocalApic.DefaultBase);
            a.mov(__dword_ptr[rbx + ApicRegister.Eoi], 0);
            // Run the woken task now (it waited on I/O), unless none was woken, and keep it through the next tick
            // (as Linux's kvm_async_pf_task_wake makes the sleeper runnable and the scheduler prefers it).
            a.cmp(r14d, 0xffff_ffff);
            a.je(g.L("resume"));
            a.lea(eax, __[r14 + 1]);
            a.mov(__dword_ptr[WokenTask], eax);
            a.mov(eax, r14d);
            a.jmp(g.L("switch_to"));
        }

        private void TimerHandler()
        {
            g.Mark("timer");
            PushAll();
            a.inc(__dword_ptr[TickCount]);
            a.mov(rbx, LocalApic.DefaultBase);
            a.mov(__dword_ptr[rbx + ApicRegister.Eoi], 0);
            if (holdPort != 0)
            {
                // A parked walker runs again once its hold port reads non-zero.
                var held = a.CreateLabel();
                a.cmp(__dword_ptr[StateOf(0)], Parked);
                a.jne(held);
                a.mov(dx, holdPort);
                a.@in(al, dx);
                a.test(al, al);
                a.jz(held);
                a.mov(__dword_ptr[StateOf(0)], Runnable);
                a.Label(ref held);
            }
            // The first tick after a "page ready" switched to its sleeper leaves that task running.
            a.mov(eax, __dword_ptr[WokenTask]);
            a.mov(__dword_ptr[WokenTask], 0);
            a.dec(eax);
            a.cmp(eax, __dword_ptr[CurrentTask]);
            a.jne(g.L("switch_next"));
            a.inc(__dword_ptr[WokenKeptCount]);
            a.jmp(g.L("resume"));

            g.Mark("spurious");
            a.iretq();

            // INT ParkVector from the walker: off the run queue until a tick finds its hold port released.
            g.Mark("park");
            PushAll();
            a.mov(eax, __dword_ptr[CurrentTask]);
            a.shl(eax, 5);
            a.mov(__dword_ptr[rax + (int)Tcbs + 8], Parked);
            a.jmp(g.L("switch_next"));
        }

        // switch_next: save the current context, pick the next runnable task round-robin (the idle task if none);
        // switch_to: the same with EAX = the task; resume: return into the current context.
        private void SwitchRoutines()
        {
            g.Mark("switch_next");
            var scan = a.CreateLabel();
            var wrap = a.CreateLabel();
            a.mov(eax, __dword_ptr[CurrentTask]);
            a.mov(ecx, (uint)(tasks - 1)); // candidates: every task but the idle one
            a.Label(ref scan);
            a.inc(eax);
            a.cmp(eax, (uint)Idle);
            a.jb(wrap);
            a.xor(eax, eax);
            a.Label(ref wrap);
            a.mov(edx, eax);
            a.shl(edx, 5);
            a.cmp(__dword_ptr[rdx + (int)Tcbs + 8], Runnable);
            a.je(g.L("switch_to"));
            a.dec(ecx);
            a.jnz(scan);
            a.mov(eax, (uint)Idle);

            g.Mark("switch_to");
            a.mov(edx, __dword_ptr[CurrentTask]);
            a.shl(edx, 5);
            a.mov(__qword_ptr[rdx + (int)Tcbs], rsp);
            a.mov(__dword_ptr[CurrentTask], eax);
            a.shl(eax, 5);
            a.mov(rsp, __qword_ptr[rax + (int)Tcbs]);

            g.Mark("resume");
            PopAll();
            a.iretq();
        }

        // sleep_find: EAX = token (0 = a free slot) -> RBX = its entry, or 0. Clobbers ECX.
        private void SleepTableRoutines()
        {
            g.Mark("sleep_find");
            var loop = a.CreateLabel();
            a.mov(rbx, SleepTable);
            a.mov(ecx, SleepSlots);
            a.Label(ref loop);
            a.cmp(__dword_ptr[rbx], eax);
            a.je(g.L("sleep_found"));
            a.add(rbx, 8);
            a.dec(ecx);
            a.jnz(loop);
            a.xor(ebx, ebx);
            g.Mark("sleep_found");
            a.ret();
        }

        private void FatalHandlers()
        {
            for (int v = 0; v < 32; v++)
            {
                if (v == 14) continue;
                g.Mark($"fatal{v}");
                a.mov(r13d, (uint)v);
                a.mov(r12, cr2);
                a.jmp(g.L("fatal"));
            }
            // R13 = vector, R12 = CR2; the exception's frame (with or without an error code) is on the stack.
            g.Mark("fatal");
            a.cli();
            a.mov(r14, __qword_ptr[rsp]);
            a.mov(r15, __qword_ptr[rsp + 8]);
            g.Print("fatal: vector=");
            a.mov(eax, r13d);
            g.PrintHex32();
            g.Print(" cr2=");
            a.mov(rax, r12);
            g.PrintHex64();
            g.Print(" frame=");
            a.mov(rax, r14);
            g.PrintHex64();
            g.PutChar(' ');
            a.mov(rax, r15);
            g.PrintHex64();
            g.PutChar('\n');
            a.mov(al, FatalResultCode);
            g.DebugExitWithAl();
        }

        // ECX = vector, RAX = handler: a present 64-bit interrupt gate, DPL 0, no IST.
        private void SetGate()
        {
            g.Mark("set_gate");
            a.mov(rdx, Idt);
            a.shl(ecx, 4);
            a.add(rdx, rcx);
            a.mov(__word_ptr[rdx], ax);
            a.mov(__word_ptr[rdx + 2], BootGdt.Code64Selector);
            a.mov(__word_ptr[rdx + 4], 0x8E00);
            a.shr(rax, 16);
            a.mov(__word_ptr[rdx + 6], ax);
            a.shr(rax, 16);
            a.mov(__dword_ptr[rdx + 8], eax);
            a.mov(__dword_ptr[rdx + 12], 0);
            a.ret();
        }
    }
}
