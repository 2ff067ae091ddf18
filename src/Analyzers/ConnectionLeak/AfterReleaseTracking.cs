// TDG004's part of the walk: the releases seen (a released path state points at one), and the uses and second
// releases of a resource on a path where it was already released.
using System;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The releases of the followed resource and what happens to it after one.</summary>
internal sealed class AfterReleaseTracking
{
    private readonly LeakFlowAnalysis _analysis;
    private List<ReleaseSite>? _releaseSites;
    private List<Misuse>? _misuses;
    private HashSet<IOperation>? _releasedWhileHeld;

    public AfterReleaseTracking(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>The uses and second releases found, each second release marked fixable only where every path had released.</summary>
    public IReadOnlyList<Misuse> Misuses()
    {
        if (_misuses is null)
        {
            return Array.Empty<Misuse>();
        }

        // A second release can go only where every path that reaches it has released already.
        for (var i = 0; i < _misuses.Count; i++)
        {
            var misuse = _misuses[i];
            if (misuse.Kind == MisuseKind.ReleasedAgain && _releasedWhileHeld?.Contains(misuse.At) == true)
            {
                _misuses[i] = new Misuse(misuse.Kind, misuse.At, misuse.Other, misuse.Closed, fixable: false, misuse.Variable);
            }
        }

        return _misuses;
    }

    /// <summary>Did some path release the resource while it held it?</summary>
    public bool ReleasedWhileHeld => _releasedWhileHeld is { Count: > 0 };

    /// <summary><paramref name="release"/> released a held resource on some path.</summary>
    public void NoteReleasedWhileHeld(IOperation release) => (_releasedWhileHeld ??= new HashSet<IOperation>()).Add(release);

    /// <summary>The release a released <paramref name="state"/> comes from.</summary>
    public ReleaseSite ReleaseOf(PathState state) => _releaseSites![state.ReleasedAt - 1];

    /// <summary>1 + the index of <paramref name="release"/> among the releases seen, adding it the first time.</summary>
    public int ReleaseIndex(IOperation release, bool closes)
    {
        _releaseSites ??= new List<ReleaseSite>();
        for (var i = 0; i < _releaseSites.Count; i++)
        {
            if (ReferenceEquals(_releaseSites[i].Operation, release) && _releaseSites[i].Closes == closes)
            {
                return i + 1;
            }
        }

        _releaseSites.Add(new ReleaseSite(release, _analysis.Block.Ordinal, closes, ReceiverOf(release)));
        return _releaseSites.Count;
    }

    /// <summary>A member of the released resource is used: reported unless it is harmless after this kind of release.</summary>
    public void UseAfterRelease(IOperation use, IOperation? receiver, ISymbol member)
    {
        if (member.Name == "State" || member.ContainingType?.SpecialType == SpecialType.System_Object || member.Name is "GetType" or "ToString" or "GetHashCode" or "Equals")
        {
            return;
        }

        var release = ReleaseOf(_analysis.State);
        if (release.Closes)
        {
            if (member is IMethodSymbol { Name: "Open" or "OpenAsync" })
            {
                // Opened again: that Open is an acquisition of its own, and its own analysis follows the connection.
                _analysis.State = new PathState(ResourceStatus.Released, HolderSet.Empty);
                return;
            }

            if (!NeedsOpenConnection(member.Name))
            {
                // A closed DbConnection keeps its settings, and Dapper opens and closes a closed connection by itself.
                return;
            }
        }

        AddMisuse(MisuseKind.UsedAfterRelease, use, release.Operation, receiver);
    }

    public void AddMisuse(MisuseKind kind, IOperation at, IOperation other, IOperation? receiver)
    {
        _misuses ??= new List<Misuse>();
        foreach (var existing in _misuses)
        {
            if (existing.Kind == kind && ReferenceEquals(existing.At, at))
            {
                return;
            }
        }

        var closed = kind == MisuseKind.UsedAfterRelease && ReleaseOf(_analysis.State).Closes;
        _misuses.Add(new Misuse(kind, at, other, closed, fixable: kind != MisuseKind.UsedAfterRelease, VariableName(receiver)));
    }

    /// <summary>DbConnection members that throw on a closed connection.</summary>
    private static bool NeedsOpenConnection(string name) =>
        name is "BeginTransaction" or "BeginTransactionAsync" or "ChangeDatabase" or "ChangeDatabaseAsync" or "EnlistTransaction"
            or "GetSchema" or "GetSchemaAsync" or "ServerVersion" or "ServerThread" or "ResetConnectionAsync";

    private IOperation? ReceiverOf(IOperation release)
    {
        if (release is not IInvocationOperation invocation)
        {
            return null;
        }

        if (invocation.Instance is not null)
        {
            return invocation.Instance;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (_analysis.Variables.HeldBy(_analysis.State, argument.Value))
            {
                return argument.Value;
            }
        }

        return null;
    }

    /// <summary>The receiver's name when it is a variable; otherwise a local or parameter that holds the resource.</summary>
    private string? VariableName(IOperation? receiver)
    {
        switch (TrackedVariables.Unwrap(receiver))
        {
            case ILocalReferenceOperation local:
                return local.Local.Name;
            case IParameterReferenceOperation parameter:
                return parameter.Parameter.Name;
        }

        return _analysis.Variables.FirstHolderName(_analysis.State);
    }
}

/// <summary>A release of the resource: the call, its block, whether it only closed a DbConnection, and what it was called on.</summary>
internal readonly struct ReleaseSite
{
    public ReleaseSite(IOperation operation, int blockOrdinal, bool closes, IOperation? receiver)
    {
        Operation = operation;
        BlockOrdinal = blockOrdinal;
        Closes = closes;
        Receiver = receiver;
    }

    public IOperation Operation { get; }

    public int BlockOrdinal { get; }

    public bool Closes { get; }

    public IOperation? Receiver { get; }
}
