from rest_framework import serializers

from payouts.models import Withdrawal


class WithdrawalInputSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=1, help_text="Amount to take from the balance, in fen")


class WithdrawalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Withdrawal
        fields = [
            "id",
            "status",
            "amount_fen",
            "fee_fen",
            "payout_fen",
            "out_bill_no",
            "transfer_state",
            "reason",
            "created_at",
            "reviewed_at",
            "paid_at",
            "failed_at",
        ]
        read_only_fields = fields


class WalletSerializer(serializers.Serializer):
    settled_fen = serializers.IntegerField()
    pending_fen = serializers.IntegerField()
    clawed_back_fen = serializers.IntegerField()
    paid_out_fen = serializers.IntegerField()
    in_withdrawal_fen = serializers.IntegerField()
    available_fen = serializers.IntegerField()


class WithdrawalReviewInputSerializer(serializers.Serializer):
    withdrawal_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )
    action = serializers.ChoiceField(choices=["start_review", "approve", "reject"])
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
