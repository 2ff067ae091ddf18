using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// A meter factory for one <see cref="TenantDatabase"/> and a listener on the meters it made, so that a test sees
/// only its own instance's measurements, not those of a database another test left behind.
/// </summary>
public sealed class RecordedMetrics : IMeterFactory
{
    private readonly ConcurrentBag<Meter> _meters = [];
    private readonly List<Measurement> _measurements = [];
    private readonly MeterListener _listener = new();

    public RecordedMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_meters.Contains(instrument.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The meters this factory made, by name.</summary>
    public IReadOnlyList<string> MeterNames => [.. _meters.Select(m => m.Name)];

    /// <summary>Whether <paramref name="meter"/> is one this factory made.</summary>
    public bool Made(Meter meter) => _meters.Contains(meter);

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    /// <summary>Reads every observable instrument once (as an exporter would on its schedule).</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>The measurements of instrument <paramref name="name"/> recorded so far, oldest first.</summary>
    public IReadOnlyList<Measurement> Of(string name)
    {
        lock (_measurements)
        {
            return [.. _measurements.Where(m => m.Instrument == name)];
        }
    }

    /// <summary>Reads the observable instruments now and returns what <paramref name="name"/> reported this time.</summary>
    public IReadOnlyList<Measurement> ObserveNow(string name)
    {
        int start;
        lock (_measurements)
        {
            start = _measurements.Count;
        }

        Observe();
        lock (_measurements)
        {
            return [.. _measurements.Skip(start).Where(m => m.Instrument == name)];
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var measurement = new Measurement(instrument.Meter.Name, instrument.Name, instrument.Unit, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value));
        lock (_measurements)
        {
            _measurements.Add(measurement);
        }
    }
}

public sealed record Measurement(string Meter, string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, object?> Tags);
