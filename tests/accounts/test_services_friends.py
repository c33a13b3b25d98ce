import pytest
from django.db import connection

from accounts import selectors, services
from accounts.errors import (
    AlreadyFriends,
    CannotBefriendSelf,
    FriendRequestAnswered,
    FriendRequestNotFound,
    UserNotFoundByPhone,
)
from accounts.models import FriendRequest, Friendship
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_request_then_accept_makes_symmetric_friends(django_capture_on_commit_callbacks):
    alice, bob = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        request = services.friend_request_send(from_user=alice, phone=bob.phone)
    assert request.status == FriendRequest.Status.PENDING
    assert len(queued) == 1  # bob is told
    services.friend_request_accept(user=bob, request_id=request.pk)
    assert selectors.friend_ids(user=alice) == [bob.pk]
    assert selectors.friend_ids(user=bob) == [alice.pk]


def test_sending_twice_keeps_one_pending_request():
    alice, bob = UserFactory(), UserFactory()
    first = services.friend_request_send(from_user=alice, phone=bob.phone)
    second = services.friend_request_send(from_user=alice, phone=bob.phone)
    assert first.pk == second.pk
    assert FriendRequest.objects.count() == 1


def test_asking_someone_who_already_asked_you_accepts_their_request():
    alice, bob = UserFactory(), UserFactory()
    request = services.friend_request_send(from_user=alice, phone=bob.phone)
    answer = services.friend_request_send(from_user=bob, phone=alice.phone)
    assert answer.pk == request.pk and answer.status == FriendRequest.Status.ACCEPTED
    assert Friendship.objects.count() == 2


def test_accept_is_idempotent_and_decline_after_accept_is_refused():
    alice, bob = UserFactory(), UserFactory()
    request = services.friend_request_send(from_user=alice, phone=bob.phone)
    services.friend_request_accept(user=bob, request_id=request.pk)
    services.friend_request_accept(user=bob, request_id=request.pk)
    assert Friendship.objects.count() == 2
    with pytest.raises(FriendRequestAnswered):
        services.friend_request_decline(user=bob, request_id=request.pk)


def test_decline_makes_no_friendship_and_a_new_request_can_follow():
    alice, bob = UserFactory(), UserFactory()
    request = services.friend_request_send(from_user=alice, phone=bob.phone)
    services.friend_request_decline(user=bob, request_id=request.pk)
    services.friend_request_decline(user=bob, request_id=request.pk)
    assert not Friendship.objects.exists()
    with pytest.raises(FriendRequestAnswered):
        services.friend_request_accept(user=bob, request_id=request.pk)
    again = services.friend_request_send(from_user=alice, phone=bob.phone)
    assert again.pk != request.pk and again.status == FriendRequest.Status.PENDING


def test_only_the_recipient_can_answer():
    alice, bob, mallory = UserFactory(), UserFactory(), UserFactory()
    request = services.friend_request_send(from_user=alice, phone=bob.phone)
    for user in (alice, mallory):
        with pytest.raises(FriendRequestNotFound):
            services.friend_request_accept(user=user, request_id=request.pk)
    assert not Friendship.objects.exists()


def test_refusals_unknown_phone_self_and_already_friends():
    alice, bob = UserFactory(), UserFactory()
    with pytest.raises(UserNotFoundByPhone):
        services.friend_request_send(from_user=alice, phone="13999999999")
    with pytest.raises(CannotBefriendSelf):
        services.friend_request_send(from_user=alice, phone=alice.phone)
    services.friendship_create(user=alice, friend=bob)
    with pytest.raises(AlreadyFriends):
        services.friend_request_send(from_user=bob, phone=alice.phone)


def test_friendship_create_twice_and_remove_both_directions():
    alice, bob = UserFactory(), UserFactory()
    services.friendship_create(user=alice, friend=bob)
    services.friendship_create(user=bob, friend=alice)
    assert Friendship.objects.count() == 2
    services.friendship_remove(user=bob, friend_id=alice.pk)
    services.friendship_remove(user=bob, friend_id=alice.pk)
    assert not Friendship.objects.exists()


def test_friend_ids_is_one_query(django_assert_num_queries):
    alice = UserFactory()
    for _ in range(5):
        services.friendship_create(user=alice, friend=UserFactory())
    with django_assert_num_queries(1):
        assert len(selectors.friend_ids(user=alice)) == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_accept_and_crossed_requests_write_each_direction_once():
    import threading

    alice, bob = UserFactory(), UserFactory()
    request = services.friend_request_send(from_user=alice, phone=bob.phone)
    barrier = threading.Barrier(3)
    errors: list[Exception] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    calls = [
        lambda: services.friend_request_accept(user=bob, request_id=request.pk),
        lambda: services.friend_request_accept(user=bob, request_id=request.pk),
        lambda: services.friend_request_send(from_user=bob, phone=alice.phone),
    ]
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The crossed request may find them already friends, which is the one acceptable refusal.
    assert all(isinstance(error, AlreadyFriends) for error in errors), errors
    assert Friendship.objects.count() == 2
    assert FriendRequest.objects.get(pk=request.pk).status == FriendRequest.Status.ACCEPTED
