using System.Diagnostics;
using TenantDbGuard.Core;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The arithmetic of the process budget, without a server: the ceiling from the options or the server's
/// <c>max_connections</c>, the stop at a refusal, the multiplicative decrease under congestion (once per cooldown),
/// and the additive increase while callers want room and the server has it. The end-to-end behaviour against real
/// servers is in <see cref="ServerSharingTests"/>.
/// </summary>
public sealed class BudgetControlTests
{
    private const long Now = 1_000_000_000;

    private static readonly long Cooldown = (long)(2 * BudgetControl.Interval.TotalSeconds * Stopwatch.Frequency);

    [Fact]
    public void An_explicit_ceiling_is_the_limit_from_the_start_and_the_server_does_not_change_it()
    {
        var control = new BudgetControl(explicitCeiling: 40, share: 0.5, reserved: 10);
        Assert.Equal((40, 40), (control.Ceiling, control.Limit));

        control.SetServerMax(500);

        Assert.Equal((40, 40, 500), (control.Ceiling, control.Limit, control.ServerMax));
    }

    [Theory]
    [InlineData(151, 1.0, 10, 141)]
    [InlineData(151, 0.5, 10, 65)]
    [InlineData(100, 0.25, 0, 25)]
    [InlineData(10, 1.0, 10, 1)]
    [InlineData(5, 0.5, 10, 1)]
    public void A_derived_ceiling_is_the_share_of_max_connections_less_the_reserve_and_at_least_one(int serverMax, double share, int reserved, int ceiling)
    {
        var control = new BudgetControl(explicitCeiling: null, share, reserved);
        Assert.Equal((0, 0, 0), (control.Ceiling, control.Limit, control.ServerMax));

        control.SetServerMax(serverMax);

        Assert.Equal((ceiling, ceiling, serverMax), (control.Ceiling, control.Limit, control.ServerMax));
    }

    [Fact]
    public void A_lower_max_connections_lowers_the_limit_and_a_higher_one_leaves_it_where_it_was()
    {
        var control = new BudgetControl(explicitCeiling: null, share: 1.0, reserved: 0);
        control.SetServerMax(100);
        control.Refused(open: 60);

        control.SetServerMax(50);
        Assert.Equal((50, 50), (control.Ceiling, control.Limit));

        control.SetServerMax(200);
        Assert.Equal((200, 50), (control.Ceiling, control.Limit));
    }

    [Fact]
    public void Each_reading_takes_the_servers_max_connections()
    {
        var control = Derived(serverMax: 100, reserved: 10);

        control.Observe(new ServerLoad(50, 10, 0), open: 10, wanting: false, Now);

        Assert.Equal((50, 40, 40), (control.ServerMax, control.Ceiling, control.Limit));
    }

    [Theory]
    [InlineData(30, 30)]
    [InlineData(100, 80)]
    [InlineData(0, 1)]
    public void A_refusal_stops_the_limit_at_the_connections_open_and_never_below_one(int open, int limit)
    {
        var control = new BudgetControl(explicitCeiling: 80, share: 1.0, reserved: 0);

        control.Refused(open);

        Assert.Equal(limit, control.Limit);
    }

    [Fact]
    public void A_refusal_before_the_budget_is_known_leaves_it_unknown()
    {
        var control = new BudgetControl(explicitCeiling: null, share: 1.0, reserved: 10);

        control.Refused(5);

        Assert.Equal(0, control.Limit);
    }

    [Theory]
    [InlineData(10, 5)]
    [InlineData(3, 1)]
    [InlineData(1, 1)]
    [InlineData(0, 1)]
    public void The_margin_is_half_the_reserve_and_at_least_one(int reserved, int margin) =>
        Assert.Equal(margin, new BudgetControl(explicitCeiling: 10, share: 1.0, reserved).Margin);

    [Theory]
    [InlineData(320, 10)]
    [InlineData(64, 2)]
    [InlineData(31, 1)]
    public void The_step_is_a_32nd_of_the_ceiling_and_at_least_one(int ceiling, int step) =>
        Assert.Equal(step, new BudgetControl(ceiling, share: 1.0, reserved: 0).Step);

    [Theory]
    [InlineData(0, 250)]
    [InlineData(1, 249)]
    [InlineData(249, 1)]
    [InlineData(250, 250)]
    [InlineData(1_000, 250)]
    [InlineData(1_100, 150)]
    public void Readings_fall_on_multiples_of_the_interval_of_the_wall_clock(int millisecondsPastTheSecond, int untilNext)
    {
        var now = new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc).AddMilliseconds(millisecondsPastTheSecond);

        Assert.Equal(TimeSpan.FromMilliseconds(untilNext), BudgetControl.UntilNextReading(now));
    }

    [Fact]
    public void Congestion_lowers_the_limit_by_the_factor_once_per_cooldown()
    {
        // max 100, reserve 10 (margin 5): 97 threads connected, 40 of them this process's.
        var control = Derived(serverMax: 100, reserved: 10);
        Assert.Equal(90, control.Limit);

        control.Observe(new ServerLoad(100, 97, 0), open: 40, wanting: false, Now);
        Assert.Equal(28, control.Limit);

        control.Observe(new ServerLoad(100, 97, 0), open: 28, wanting: false, Now + Cooldown - 1);
        Assert.Equal(28, control.Limit);

        control.Observe(new ServerLoad(100, 97, 0), open: 28, wanting: false, Now + Cooldown);
        Assert.Equal(19, control.Limit);
    }

    [Fact]
    public void A_decrease_starts_from_the_limit_when_fewer_are_allowed_than_are_open_and_never_goes_below_one()
    {
        var control = new BudgetControl(explicitCeiling: 10, share: 1.0, reserved: 10);

        control.Observe(new ServerLoad(100, 99, 0), open: 50, wanting: false, Now);
        Assert.Equal(7, control.Limit);

        control.Observe(new ServerLoad(100, 99, 0), open: 1, wanting: false, Now + Cooldown);
        Assert.Equal(1, control.Limit);
    }

    [Fact]
    public void A_process_alone_near_max_connections_does_not_back_off_because_of_its_own_connections()
    {
        var control = Derived(serverMax: 100, reserved: 10);

        control.Observe(new ServerLoad(100, 97, 0), open: 97, wanting: false, Now);

        Assert.Equal(90, control.Limit);
    }

    [Fact]
    public void Headroom_of_exactly_the_margin_is_not_congestion()
    {
        var control = Derived(serverMax: 100, reserved: 10);

        control.Observe(new ServerLoad(100, 95, 0), open: 40, wanting: false, Now);

        Assert.Equal(90, control.Limit);
    }

    [Fact]
    public void A_refusal_by_the_server_since_the_last_reading_is_congestion_however_much_room_there_is_now()
    {
        var control = Derived(serverMax: 100, reserved: 10);

        // The first reading only learns the count; the same count again is no news.
        control.Observe(new ServerLoad(100, 20, 7), open: 20, wanting: false, Now);
        control.Observe(new ServerLoad(100, 20, 7), open: 20, wanting: false, Now + Cooldown);
        Assert.Equal(90, control.Limit);

        control.Observe(new ServerLoad(100, 20, 8), open: 20, wanting: false, Now + (2 * Cooldown));
        Assert.Equal(14, control.Limit);
    }

    [Fact]
    public void Callers_that_want_room_raise_the_limit_by_a_step_up_to_the_edge_of_the_margin_and_the_ceiling()
    {
        // Ceiling 320 (step 10), margin 5.
        var control = Derived(serverMax: 330, reserved: 10);
        control.Refused(open: 100);

        control.Observe(new ServerLoad(330, 200, 0), open: 100, wanting: true, Now);
        Assert.Equal(110, control.Limit);

        // Three past the margin: up by three, not by the step.
        control.Observe(new ServerLoad(330, 322, 0), open: 110, wanting: true, Now);
        Assert.Equal(113, control.Limit);

        // At the margin's edge: one more, to probe for room.
        control.Observe(new ServerLoad(330, 325, 0), open: 113, wanting: true, Now);
        Assert.Equal(114, control.Limit);

        // Nobody waiting: no increase.
        control.Observe(new ServerLoad(330, 200, 0), open: 114, wanting: false, Now);
        Assert.Equal(114, control.Limit);
    }

    [Fact]
    public void An_increase_stops_at_the_ceiling()
    {
        var control = Derived(serverMax: 330, reserved: 10);
        control.Refused(open: 315);

        control.Observe(new ServerLoad(330, 100, 0), open: 100, wanting: true, Now);
        Assert.Equal(320, control.Limit);

        control.Observe(new ServerLoad(330, 100, 0), open: 100, wanting: true, Now);
        Assert.Equal(320, control.Limit);
    }

    private static BudgetControl Derived(int serverMax, int reserved)
    {
        var control = new BudgetControl(explicitCeiling: null, share: 1.0, reserved);
        control.SetServerMax(serverMax);
        return control;
    }
}
